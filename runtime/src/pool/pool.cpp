// make_inference_pool: validates the options, builds the starting instances, and runs the
// pool actor on the pool's own small actor system.
#include "troupe/runtime/pool.hpp"

#include <cmath>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "pool_actor.hpp"
#include "troupe/runtime/openai_client.hpp"

namespace troupe::runtime {

target_factory local_target_factory() {
  return [](const target_options& t) -> result<std::shared_ptr<inference_client>> {
    auto e = make_engine_client(t.engine);
    if (!e) return tl::make_unexpected(e.error());
    return std::shared_ptr<inference_client>(std::move(*e));
  };
}

target_factory openai_target_factory() {
  return [](const target_options& t) -> result<std::shared_ptr<inference_client>> {
    openai_options o;
    o.base_url = t.url;
    o.model = t.model;
    o.api_key_env = t.api_key_env;
    o.max_concurrent = std::max<std::size_t>(t.slots > 0 ? t.slots : t.capacity, 1);
    return make_openai_client(std::move(o));
  };
}

namespace {

using detail::pool_actor_state;
using detail::pool_task;

class pool_handle final : public inference_pool {
public:
  explicit pool_handle(bool deterministic) : deterministic_(deterministic) {}
  ~pool_handle() override { shutdown(); }

  result<void> start(pool_options options, std::vector<detail::ready_instance> ready) {
    config_.add_message_types<caf::id_block::troupe_pool>();
    if (deterministic_) config_.set("scheduler.policy", caf::atom("testing"));
    config_.set("scheduler.max-threads", std::max<std::size_t>(options.scheduler_threads, 1));
    system_ = std::make_unique<caf::actor_system>(config_);
    actor_ = detail::spawn_pool_actor(*system_, std::move(options), box_, std::move(ready), deterministic_);
    run_pending();
    return {};
  }

  void generate(generation_request request, piece_callback on_piece, done_callback on_done) override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (!stopped_) {
        auto shared = std::make_shared<std::tuple<generation_request, piece_callback, done_callback>>(
            std::move(request), std::move(on_piece), std::move(on_done));
        caf::anon_send(actor_, pool_task{[shared](pool_actor_state& st) {
                         auto& [r, p, d] = *shared;
                         st.core->submit(std::move(r), std::move(p), std::move(d), st.core_now());
                       }});
        return;
      }
    }
    on_done(fail(errc::stopped, fmt::format("inference pool is shut down (request '{}')", request.request_id)));
  }

  void cancel(std::string_view request_id) override {
    post([id = std::string(request_id)](pool_actor_state& st) { st.core->cancel(id); });
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopped_ || !system_) return;
      stopped_ = true;
      caf::anon_send(actor_, pool_task{[](pool_actor_state& st) {
                       st.core->stop_all();
                       st.stopped = true;
                       st.publish();
                       st.self->quit();
                     }});
    }
    run_pending();
    if (deterministic_) {
      auto& sched = coordinator();
      while (sched.has_pending_timeout()) {
        sched.trigger_timeouts();
        sched.run();
      }
    }
    actor_ = caf::actor{};
    system_.reset();  // waits for every actor (engine clients released on helpers) to end
  }

  pool_stats stats() const override {
    std::lock_guard<std::mutex> guard{box_->mutex};
    return box_->stats;
  }

  result<void> kill_target(std::string_view name) override {
    if (!known(name)) return fail(errc::not_found, fmt::format("no inference target '{}'", name));
    post([n = std::string(name)](pool_actor_state& st) {
      auto id = st.core->find_instance(n);
      if (!id) return;
      auto it = st.actors.find(*id);
      if (it != st.actors.end()) st.self->send_exit(it->second, caf::exit_reason::kill);
    });
    return {};
  }

  result<void> drain_target(std::string_view name) override {
    if (!known(name)) return fail(errc::not_found, fmt::format("no inference target '{}'", name));
    post([n = std::string(name)](pool_actor_state& st) { st.core->drain(n); });
    return {};
  }

  std::size_t run_pending() override { return deterministic_ && system_ ? coordinator().run() : 0; }

  std::size_t advance_time_ms(std::int64_t ms) override {
    if (!deterministic_ || !system_) return 0;
    auto& sched = coordinator();
    std::size_t n = sched.run();
    sched.advance_time(std::chrono::milliseconds{ms});
    return n + sched.run();
  }

private:
  caf::scheduler::test_coordinator& coordinator() {
    return dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
  }

  void post(std::function<void(pool_actor_state&)> fn) {
    std::lock_guard<std::mutex> guard{mutex_};
    if (!stopped_) caf::anon_send(actor_, pool_task{std::move(fn)});
  }

  bool known(std::string_view name) const {
    const auto s = stats();
    for (const auto& t : s.targets)
      if (t.name == name) return true;
    return false;
  }

  bool deterministic_;
  caf::actor_system_config config_;
  std::unique_ptr<caf::actor_system> system_;
  caf::actor actor_;
  std::shared_ptr<detail::stats_box> box_ = std::make_shared<detail::stats_box>();
  std::mutex mutex_;     ///< orders generate() sends before the shutdown message
  bool stopped_ = false; ///< guarded by mutex_
};

result<void> check(const pool_options& o) {
  if (o.targets.empty()) return fail(errc::invalid_argument, "an inference pool needs at least one target");
  std::set<std::string> names;
  for (const auto& t : o.targets) {
    if (t.name.empty()) return fail(errc::invalid_argument, "an inference target needs a name");
    if (!names.insert(t.name).second)
      return fail(errc::invalid_argument, fmt::format("duplicate inference target name '{}'", t.name));
    if (!(t.weight > 0) || !std::isfinite(t.weight))
      return fail(errc::invalid_argument, fmt::format("target '{}': weight must be > 0", t.name));
    if (t.min_count == 0 || t.min_count > t.max_count)
      return fail(errc::invalid_argument,
                  fmt::format("target '{}': need 1 <= min_count <= max_count", t.name));
    if (t.capacity == 0) return fail(errc::invalid_argument, fmt::format("target '{}': capacity must be >= 1", t.name));
    if (!o.factories.count(t.kind))
      return fail(errc::unknown_kind, fmt::format("target '{}': no factory for kind '{}'", t.name, t.kind));
  }
  if (o.max_attempts == 0) return fail(errc::invalid_argument, "max_attempts must be >= 1");
  return {};
}

} // namespace

result<std::shared_ptr<inference_pool>> make_inference_pool(pool_options options) {
  if (!options.factories.count("local")) options.factories.emplace("local", local_target_factory());
  if (!options.factories.count("openai")) options.factories.emplace("openai", openai_target_factory());
  if (auto ok = check(options); !ok) return tl::make_unexpected(ok.error());
  std::vector<detail::ready_instance> ready;
  for (std::size_t g = 0; g < options.targets.size(); ++g) {
    const auto& t = options.targets[g];
    for (std::size_t i = 0; i < t.min_count; ++i) {
      auto made = options.factories.at(t.kind)(t);
      if (!made)
        return fail(made.error().code, fmt::format("target '{}': {}", t.name, made.error().message));
      ready.push_back({g, std::move(*made)});
    }
  }
  auto pool = std::make_shared<pool_handle>(options.deterministic);
  if (auto ok = pool->start(std::move(options), std::move(ready)); !ok) return tl::make_unexpected(ok.error());
  return pool;
}

} // namespace troupe::runtime
