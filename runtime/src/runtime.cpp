// The public runtime API on top of the core.
#include <future>

#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "core.hpp"
#include "type_ids.hpp"
#include "troupe/runtime/topic.hpp"

namespace troupe::runtime {
namespace {

/// The host's own agent: receives replies to the host's requests (and anything agents send
/// to the host, which shows up in the transcript only).
class host_behavior final : public agent_behavior {
public:
  explicit host_behavior(detail::core& owner) : owner_(owner) {}
  void on_message(agent_context&, const envelope& message) override {
    if (message.kind != message_kind::reply)
      return;
    auto err = message.metadata.find("error");
    if (err != message.metadata.end())
      owner_.complete_host_request(message.parent_id,
                                   fail(errc::agent_failed, fmt::format("agent '{}' failed the request: {}",
                                                                        message.sender, err->second)));
    else
      owner_.complete_host_request(message.parent_id, message);
  }

private:
  detail::core& owner_;
};

/// Runs a host callback for each publication on its subscription.
class callback_behavior final : public agent_behavior {
public:
  explicit callback_behavior(std::function<void(const envelope&)> fn) : fn_(std::move(fn)) {}
  void on_message(agent_context&, const envelope& message) override { fn_(message); }

private:
  std::function<void(const envelope&)> fn_;
};

caf::scheduler::test_coordinator& test_sched(detail::core& c) {
  return dynamic_cast<caf::scheduler::test_coordinator&>(c.system->scheduler());
}

} // namespace

runtime::runtime(runtime_config config) : impl_(std::make_unique<impl>(std::move(config))) {
  agent_spec host;
  host.name = impl_->config.host_name;
  host.kind = "host";
  host.memory_tokens = 0;
  host.mailbox.capacity = 1 << 16;
  detail::core* c = impl_.get();
  (void)impl_->spawn(std::move(host),
                     [c](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
                       return std::make_unique<host_behavior>(*c);
                     },
                     true);
  impl_->run_scheduler();
}

runtime::~runtime() = default;

kind_registry& runtime::kinds() { return impl_->kinds; }

void runtime::set_inference_client(std::shared_ptr<inference_client> client) {
  std::lock_guard<std::mutex> guard{impl_->client_mutex};
  impl_->client = std::move(client);
}

void runtime::set_observer(observer_fn observer) {
  std::lock_guard<std::mutex> guard{impl_->observer_mutex};
  impl_->observer = std::move(observer);
  impl_->observing = impl_->observer != nullptr || impl_->config.transcript_capacity > 0;
}

result<void> runtime::spawn(agent_spec spec) {
  auto factory = impl_->kinds.find(spec.kind);
  if (!factory)
    return fail(errc::unknown_kind, fmt::format("agent '{}': {}", spec.name, factory.error().message));
  return spawn(std::move(spec), std::move(*factory));
}

result<void> runtime::spawn(agent_spec spec, agent_factory factory) {
  return impl_->spawn(std::move(spec), std::move(factory), false);
}

result<void> runtime::stop_agent(std::string_view name) {
  auto cell = impl_->agents.find(name);
  if (!cell || cell->internal)
    return fail(errc::not_found, fmt::format("no agent named '{}'", name));
  cell->stopping = true;
  impl_->agents.remove(name, cell.get());
  cell->inbox.close();
  caf::anon_send(impl_->supervisor, atoms::stop_atom_v, std::string{name});
  return {};
}

bool runtime::has_agent(std::string_view name) const {
  auto cell = impl_->agents.find(name);
  return cell && !cell->internal;
}

std::size_t runtime::agent_count() const { return impl_->agents.count(false); }

std::vector<std::string> runtime::agent_names() const { return impl_->agents.names(false); }

result<mailbox_stats> runtime::stats(std::string_view name) const {
  auto cell = impl_->agents.find(name);
  if (!cell)
    return fail(errc::not_found, fmt::format("no agent named '{}'", name));
  return cell->inbox.stats();
}

result<void> runtime::send(std::string_view to, std::string content,
                           std::map<std::string, std::string> metadata) {
  envelope e;
  e.recipient = std::string{to};
  e.content = std::move(content);
  e.metadata = std::move(metadata);
  return send(std::move(e));
}

result<void> runtime::send(envelope message) {
  if (message.sender.empty())
    message.sender = impl_->config.host_name;
  auto r = impl_->route(std::move(message));
  if (!r)
    return tl::make_unexpected(r.error());
  return {};
}

result<std::size_t> runtime::publish(std::string_view topic, std::string content,
                                     std::map<std::string, std::string> metadata) {
  envelope e;
  e.sender = impl_->config.host_name;
  e.topic = std::string{topic};
  e.content = std::move(content);
  e.metadata = std::move(metadata);
  return impl_->route(std::move(e));
}

void runtime::request(std::string_view to, std::string content, std::int64_t timeout_ms,
                      reply_callback on_reply, std::map<std::string, std::string> metadata) {
  envelope e;
  e.id = impl_->make_id();
  e.sender = impl_->config.host_name;
  e.recipient = std::string{to};
  e.content = std::move(content);
  e.metadata = std::move(metadata);
  e.kind = message_kind::request;
  auto id = e.id;
  {
    std::lock_guard<std::mutex> guard{impl_->host_mutex};
    impl_->host_pending.emplace(id, detail::host_request{std::move(on_reply)});
  }
  if (auto r = impl_->route(std::move(e)); !r) {
    impl_->complete_host_request(id, tl::make_unexpected(r.error()));
    return;
  }
  caf::anon_send(impl_->supervisor, atoms::timeout_atom_v, id, timeout_ms);
}

result<envelope> runtime::ask(std::string_view to, std::string content, std::int64_t timeout_ms) {
  auto done = std::make_shared<std::promise<result<envelope>>>();
  auto future = done->get_future();
  request(to, std::move(content), timeout_ms, [done](result<envelope> r) { done->set_value(std::move(r)); });
  if (!impl_->config.deterministic) {
    // The request's own timeout answers; the extra grace only guards against a stopped runtime.
    if (future.wait_for(std::chrono::milliseconds{timeout_ms + 10'000}) != std::future_status::ready)
      return fail(errc::timeout, fmt::format("no answer from '{}' (runtime stopped?)", to));
    return future.get();
  }
  auto& sched = test_sched(*impl_);
  while (true) {
    sched.run();
    if (future.wait_for(std::chrono::seconds{0}) == std::future_status::ready)
      return future.get();
    if (!sched.has_pending_timeout())
      return fail(errc::timeout, fmt::format("no answer from '{}' and nothing left to run", to));
    sched.trigger_timeout();
  }
}

result<subscription_id> runtime::subscribe(std::string_view pattern,
                                           std::function<void(const envelope&)> callback,
                                           mailbox_options mailbox) {
  if (auto ok = validate_pattern(pattern); !ok)
    return tl::make_unexpected(ok.error());
  auto id = impl_->next_sub.fetch_add(1);
  agent_spec spec;
  spec.name = fmt::format("_sub.{}", id);
  spec.kind = "callback";
  spec.subscriptions.emplace_back(pattern);
  spec.mailbox = mailbox;
  spec.memory_tokens = 0;
  auto fn = std::move(callback);
  auto ok = impl_->spawn(spec,
                         [fn](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
                           return std::make_unique<callback_behavior>(fn);
                         },
                         true);
  if (!ok)
    return tl::make_unexpected(ok.error());
  std::lock_guard<std::mutex> guard{impl_->host_mutex};
  impl_->callback_subs.emplace(id, spec.name);
  return id;
}

result<void> runtime::unsubscribe(subscription_id id) {
  std::string name;
  {
    std::lock_guard<std::mutex> guard{impl_->host_mutex};
    auto i = impl_->callback_subs.find(id);
    if (i == impl_->callback_subs.end())
      return fail(errc::not_found, fmt::format("no subscription {}", id));
    name = i->second;
    impl_->callback_subs.erase(i);
  }
  auto cell = impl_->agents.remove(name);
  if (cell) {
    cell->stopping = true;
    cell->inbox.close();
    caf::anon_send(impl_->supervisor, atoms::stop_atom_v, name);
  }
  return {};
}

result<void> runtime::subscribe_agent(std::string_view agent, std::string_view pattern) {
  return impl_->agents.subscribe(agent, pattern);
}

result<void> runtime::unsubscribe_agent(std::string_view agent, std::string_view pattern) {
  return impl_->agents.unsubscribe(agent, pattern);
}

void runtime::request_stop(std::string reason) { impl_->end_run(std::move(reason)); }

result<std::string> runtime::wait(std::optional<std::int64_t> timeout_ms) {
  if (impl_->config.deterministic) {
    auto& sched = test_sched(*impl_);
    while (true) {
      sched.run();
      {
        std::lock_guard<std::mutex> guard{impl_->stop_mutex};
        if (impl_->outcome)
          return *impl_->outcome;
      }
      if (!sched.has_pending_timeout())
        return fail(errc::timeout, "idle: nothing left to run and no stop requested");
      sched.trigger_timeout();
    }
  }
  std::unique_lock<std::mutex> guard{impl_->stop_mutex};
  auto ready = [this] { return impl_->outcome.has_value(); };
  if (timeout_ms) {
    if (!impl_->stop_cv.wait_for(guard, std::chrono::milliseconds{*timeout_ms}, ready))
      return fail(errc::timeout, fmt::format("the run did not end within {} ms", *timeout_ms));
  } else {
    impl_->stop_cv.wait(guard, ready);
  }
  return *impl_->outcome;
}

std::vector<runtime_event> runtime::transcript() const {
  std::lock_guard<std::mutex> guard{impl_->observer_mutex};
  return {impl_->recorded.begin(), impl_->recorded.end()};
}

std::uint64_t runtime::transcript_dropped() const {
  std::lock_guard<std::mutex> guard{impl_->observer_mutex};
  return impl_->recorded_dropped;
}

std::size_t runtime::run_pending() {
  if (!impl_->config.deterministic)
    return 0;
  return test_sched(*impl_).run();
}

std::size_t runtime::advance_time_ms(std::int64_t ms) {
  if (!impl_->config.deterministic)
    return 0;
  auto& sched = test_sched(*impl_);
  std::size_t n = sched.run();
  sched.advance_time(std::chrono::milliseconds{ms});
  return n + sched.run();
}

bool runtime::deterministic() const { return impl_->config.deterministic; }

void runtime::shutdown() {
  for (const auto& name : impl_->agents.names(false))
    (void)stop_agent(name);
  impl_->run_scheduler();
}

} // namespace troupe::runtime
