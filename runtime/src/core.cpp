// The runtime core: actor system setup, routing, spawning, the supervisor, events.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <fmt/format.h>

#include "agent_actor.hpp"
#include "core.hpp"
#include "envelope_alloc.hpp"
#include "troupe/runtime/topic.hpp"

namespace troupe::runtime::detail {
namespace {

struct supervisor_state {
  struct entry {
    caf::actor actor;
    cell_ptr cell;
  };
  std::unordered_map<caf::actor_addr, entry> by_addr;
  std::unordered_map<std::string, caf::actor_addr> by_name;
};

void watch(caf::stateful_actor<supervisor_state>* self, const cell_ptr& cell, caf::actor a) {
  self->monitor(a);
  auto addr = a.address();
  self->state.by_name[cell->spec.name] = addr;
  self->state.by_addr.emplace(std::move(addr), supervisor_state::entry{std::move(a), cell});
}

void start_incarnation(caf::stateful_actor<supervisor_state>* self, const cell_ptr& cell) {
  watch(self, cell, self->spawn<agent_actor_type>(cell));
}

/// Watches every agent actor (monitor) and applies its restart policy when it fails.
caf::behavior supervisor_actor(caf::stateful_actor<supervisor_state>* self, core* owner) {
  self->set_down_handler([self, owner](caf::down_msg& msg) {
    auto i = self->state.by_addr.find(msg.source);
    if (i == self->state.by_addr.end())
      return;
    auto cell = i->second.cell;
    self->state.by_addr.erase(i);
    if (auto n = self->state.by_name.find(cell->spec.name);
        n != self->state.by_name.end() && n->second == msg.source)
      self->state.by_name.erase(n);
    bool failed = msg.reason && msg.reason != caf::exit_reason::user_shutdown &&
                  msg.reason != caf::exit_reason::kill;
    if (!failed || cell->stopping.load()) {
      owner->finish(cell, true);
      return;
    }
    auto why = cell->last_failure.empty() ? self->system().render(msg.reason) : cell->last_failure;
    cell->inbox.detach();
    owner->emit(event_type::failed, cell->spec.name, why);
    auto policy = cell->spec.on_failure;
    if (policy == restart_policy::restart && cell->restarts < cell->spec.max_restarts) {
      ++cell->restarts;
      cell->last_failure.clear();
      owner->emit(event_type::restarted, cell->spec.name,
                  fmt::format("restart {} of {}", cell->restarts, cell->spec.max_restarts));
      start_incarnation(self, cell);
      return;
    }
    if (policy == restart_policy::escalate) {
      owner->emit(event_type::escalated, cell->spec.name, why);
      owner->finish(cell, true);
      owner->end_run(fail(errc::agent_failed, fmt::format("agent '{}' failed: {}", cell->spec.name, why)));
      return;
    }
    owner->finish(cell, true);
  });
  return {
    [self](atoms::spawn_atom, const cell_ref& ref, caf::actor& a) { watch(self, ref.cell, std::move(a)); },
    [self](atoms::stop_atom, const std::string& name) {
      auto n = self->state.by_name.find(name);
      if (n == self->state.by_name.end())
        return;
      auto i = self->state.by_addr.find(n->second);
      if (i != self->state.by_addr.end())
        self->send_exit(i->second.actor, caf::exit_reason::user_shutdown);
    },
    [self, owner](atoms::host_tmo_atom, const std::string& id) {
      owner->complete_host_request(id, fail(errc::timeout,
                                            fmt::format("request {} from the host got no reply in time", id)));
    },
    [self](atoms::timeout_atom, const std::string& id, std::int64_t ms) {
      self->delayed_send(self, std::chrono::milliseconds{ms}, atoms::host_tmo_atom_v, id);
    },
  };
}

std::string random_prefix() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint32_t> dist;
  return fmt::format("{:08x}", dist(rd));
}

} // namespace

namespace {

/// Distinguishes runtimes for the per-thread id blocks (an address could be reused).
std::atomic<std::uint64_t> next_core_serial{1};

/// Ids handed out by one thread: a block of `id_block_size` counters taken from the runtime's
/// shared counter at once, so that threads do not bounce that counter's cache line per message.
/// `text` holds the next id ("<prefix>-<counter in base 36>"), counted up in place.
struct id_block {
  std::uint64_t serial = 0; ///< the runtime (core::serial) the block belongs to
  std::uint64_t next = 0;
  std::uint64_t end = 0;
  char text[48] = {};
  std::size_t size = 0;      ///< length of the id in `text`
  std::size_t digits_at = 0; ///< where the counter's digits start in `text`
};
constexpr std::uint64_t id_block_size = 64;
thread_local id_block this_thread_ids;

/// Writes "<prefix>-<n in base 36>" into `b.text`.
void format_id(id_block& b, const std::string& prefix, std::uint64_t n) {
  b.size = std::min(prefix.size(), sizeof b.text - 24);
  std::memcpy(b.text, prefix.data(), b.size);
  b.text[b.size++] = '-';
  b.digits_at = b.size;
  b.size = static_cast<std::size_t>(std::to_chars(b.text + b.size, b.text + sizeof b.text, n, 36).ptr - b.text);
}

/// Adds one to the base-36 counter in `b.text` (as std::to_chars writes it); false when it
/// needs one more digit (then the caller formats it afresh).
bool increment_id(id_block& b) {
  for (std::size_t i = b.size; i-- > b.digits_at;) {
    char& c = b.text[i];
    if (c == 'z') {
      c = '0';
      continue;
    }
    c = c == '9' ? 'a' : static_cast<char>(c + 1);
    return true;
  }
  return false;
}

} // namespace

core::core(runtime_config cfg)
    : config(std::move(cfg)), id_prefix(random_prefix()), serial(next_core_serial.fetch_add(1)) {
  observing = config.transcript_capacity > 0;
  caf_config = std::make_unique<caf::actor_system_config>();
  caf_config->add_message_types<caf::id_block::troupe_runtime>();
  if (config.deterministic)
    caf_config->set("scheduler.policy", caf::atom("testing"));
  if (config.scheduler_threads > 0)
    caf_config->set("scheduler.max-threads", config.scheduler_threads);
  system = std::make_unique<caf::actor_system>(*caf_config);
  supervisor = system->spawn(supervisor_actor, this);
  run_scheduler();
}

core::~core() {
  for (const auto& cell : agents.all()) {
    cell->stopping = true;
    agents.remove(cell->spec.name);
    cell->inbox.close();
    caf::anon_send(supervisor, atoms::stop_atom_v, cell->spec.name);
  }
  run_scheduler();
  caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
  run_scheduler();
  supervisor = caf::actor{};
  if (config.deterministic) {
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(system->scheduler());
    while (sched.has_pending_timeout()) {
      sched.trigger_timeouts();
      sched.run();
    }
  }
  system.reset();
}

void core::run_scheduler() {
  if (!config.deterministic)
    return;
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(system->scheduler());
  sched.run();
}

std::string core::make_id() {
  auto& b = this_thread_ids;
  if (b.serial != serial || b.next == b.end) {
    b.serial = serial;
    b.next = next_id.fetch_add(id_block_size, std::memory_order_relaxed);
    b.end = b.next + id_block_size;
    format_id(b, id_prefix, b.next);
  }
  // Base 36 keeps "<8 hex>-<counter>" within std::string's 15-character inline buffer for
  // the first 2 billion ids, so an id (and the conversation id copied from it) allocates nothing.
  std::string id(b.text, b.size);
  if (++b.next != b.end && !increment_id(b))
    format_id(b, id_prefix, b.next);
  return id;
}

void core::emit(runtime_event event) {
  std::lock_guard<std::mutex> guard{observer_mutex};
  if (event.timestamp_ms == 0)
    event.timestamp_ms = now_ms();
  if (observer)
    observer(event);
  if (config.transcript_capacity > 0) {
    if (recorded.size() == config.transcript_capacity) {
      recorded.pop_front();
      ++recorded_dropped;
    }
    recorded.push_back(std::move(event));
  }
}

void core::emit(event_type type, const std::string& agent, std::string detail,
                std::optional<envelope> message) {
  if (!wants_events())
    return;
  runtime_event e;
  e.type = type;
  e.agent = agent;
  e.detail = std::move(detail);
  e.message = std::move(message);
  emit(std::move(e));
}

result<void> core::not_queued(const agent_cell& cell, const bounded_inbox::push_result& r) {
  switch (r.what) {
    case bounded_inbox::outcome::queued:
      break;
    case bounded_inbox::outcome::closed:
      return fail(errc::stopped, fmt::format("agent '{}' is stopping", cell.spec.name));
    case bounded_inbox::outcome::rejected:
      emit(event_type::rejected, cell.spec.name, "mailbox full (reject)");
      return fail(errc::mailbox_full,
                  fmt::format("mailbox of agent '{}' is full ({} messages)", cell.spec.name,
                              cell.spec.mailbox.capacity));
    case bounded_inbox::outcome::dropped_newest:
      if (wants_events())
        emit(event_type::dropped, cell.spec.name, "mailbox full (drop_newest)", *r.evicted);
      break;
    case bounded_inbox::outcome::dropped_oldest:
      if (wants_events())
        emit(event_type::dropped, cell.spec.name, "mailbox full (drop_oldest)", *r.evicted);
      break;
  }
  return {};
}

void core::stamp(envelope& message) {
  if (message.id.empty())
    message.id = make_id();
  if (message.timestamp_ms == 0)
    message.timestamp_ms = coarse_now_ms();
  if (message.conversation_id.empty())
    message.conversation_id = message.parent_id.empty() ? message.id : message.parent_id;
}

result<std::size_t> core::route(envelope message, caf::execution_unit* unit) {
  stamp(message);
  if (!message.recipient.empty() && !message.topic.empty())
    return fail(errc::invalid_argument,
                fmt::format("envelope {} has both a recipient and a topic", message.id));
  if (!message.recipient.empty()) {
    auto cell = agents.find(message.recipient);
    if (!cell)
      return fail(errc::not_found, fmt::format("no agent named '{}'", message.recipient));
    auto ok = deliver(cell, new_envelope(std::move(message)), unit);
    if (!ok)
      return tl::make_unexpected(ok.error());
    return 1;
  }
  if (message.topic.empty())
    return fail(errc::invalid_argument, fmt::format("envelope {} has neither recipient nor topic", message.id));
  if (auto ok = validate_topic(message.topic); !ok)
    return tl::make_unexpected(ok.error());
  auto targets = agents.matching(message.topic);
  auto shared = new_envelope(std::move(message)); // one copy for all
  std::size_t accepted = 0;
  for (const auto& target : targets)
    if (deliver(target, std::shared_ptr<const envelope>{shared}, unit))
      ++accepted;
  return accepted;
}

result<void> core::spawn(agent_spec spec, agent_factory factory, bool internal) {
  if (spec.name.empty())
    return fail(errc::invalid_argument, "an agent needs a name");
  for (char c : spec.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return fail(errc::invalid_argument,
                  fmt::format("agent name '{}': only letters, digits, '_', '-' and '.' are allowed", spec.name));
  if (!internal && spec.name.front() == '_')
    return fail(errc::invalid_argument, fmt::format("agent name '{}': names starting with '_' are reserved", spec.name));
  if (!factory)
    return fail(errc::invalid_argument, fmt::format("agent '{}' has no factory", spec.name));
  for (const auto& p : spec.subscriptions)
    if (auto ok = validate_pattern(p); !ok)
      return fail(errc::invalid_argument, fmt::format("agent '{}': {}", spec.name, ok.error().message));
  if (spec.mailbox.capacity == 0)
    return fail(errc::invalid_argument, fmt::format("agent '{}': mailbox capacity must be at least 1", spec.name));
  auto cell = std::make_shared<agent_cell>(std::move(spec), std::move(factory), *this, internal);
  if (auto ok = agents.add(cell); !ok)
    return ok;
  if (!internal)
    live_agents.fetch_add(1);
  emit(event_type::spawned, cell->spec.name, cell->spec.kind);
  // Spawned here (not by the supervisor) so that CAF spreads new actors over its workers
  // instead of queueing them all on the supervisor's worker; the supervisor then monitors.
  auto a = system->spawn<agent_actor_type>(cell);
  caf::anon_send(supervisor, atoms::spawn_atom_v, cell_ref{cell}, std::move(a));
  return {};
}

void core::finish(const cell_ptr& cell, bool count_stop) {
  agents.remove(cell->spec.name, cell.get()); // unless a newer agent took the name
  cell->inbox.close();
  emit(event_type::stopped, cell->spec.name, {});
  if (!cell->internal && count_stop && live_agents.fetch_sub(1) == 1)
    end_run(std::string{"all agents stopped"});
}

void core::end_run(result<std::string> value) {
  {
    std::lock_guard<std::mutex> guard{stop_mutex};
    if (!outcome)
      outcome = std::move(value);
  }
  stop_cv.notify_all();
}

void core::complete_host_request(const std::string& id, result<envelope> reply) {
  reply_callback cb;
  {
    std::lock_guard<std::mutex> guard{host_mutex};
    auto i = host_pending.find(id);
    if (i == host_pending.end())
      return;
    cb = std::move(i->second.on_reply);
    host_pending.erase(i);
  }
  cb(std::move(reply));
}

} // namespace troupe::runtime::detail
