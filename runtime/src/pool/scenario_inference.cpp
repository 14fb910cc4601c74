// make_scenario_inference: pools from the scenario, routing by profile.
#include "troupe/runtime/scenario_inference.hpp"

#include <algorithm>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace troupe::runtime {

pool_options pool_options_for(const pool_spec& spec, std::size_t context_tokens) {
  pool_options o;
  o.policy = spec.policy;
  o.affinity = spec.affinity;
  o.queue_capacity = static_cast<std::size_t>(spec.queue_capacity);
  o.stall_timeout_ms = spec.stall_timeout_ms;
  o.max_attempts = static_cast<std::size_t>(spec.max_attempts);
  o.failures_before_down = static_cast<std::size_t>(spec.failures_before_down);
  o.elastic.tick_ms = spec.tick_ms;
  o.elastic.high_utilisation = spec.high_utilisation;
  o.elastic.low_utilisation = spec.low_utilisation;
  o.elastic.grow_after_ticks = static_cast<std::size_t>(spec.grow_after_ticks);
  o.elastic.shrink_after_ticks = static_cast<std::size_t>(spec.shrink_after_ticks);
  for (const auto& t : spec.targets) {
    target_options x;
    x.kind = t.kind;
    x.name = t.name;
    x.node = t.node;
    x.weight = t.weight;
    x.min_count = static_cast<std::size_t>(t.min_count);
    x.max_count = static_cast<std::size_t>(t.max_count);
    x.capacity = static_cast<std::size_t>(t.capacity > 0 ? t.capacity : t.kind == "local" ? t.max_sequences : 8);
    if (t.kind == "local") x.slots = static_cast<std::size_t>(t.max_sequences);
    x.engine.default_model = t.model;
    x.engine.max_sequences = static_cast<std::size_t>(t.max_sequences);
    x.engine.n_threads = static_cast<std::size_t>(t.threads);
    x.engine.prefill_chunk_tokens = static_cast<std::size_t>(t.prefill_chunk_tokens);
    x.engine.queue_capacity = static_cast<std::size_t>(t.queue_capacity);
    x.engine.context_tokens = t.context_tokens > 0 ? static_cast<std::size_t>(t.context_tokens) : context_tokens;
    x.engine.kv_budget_bytes = static_cast<std::size_t>(t.kv_budget_mb) << 20;
    x.engine.kv_block_tokens = static_cast<std::size_t>(t.kv_block_tokens);
    x.engine.kv_type = t.kv_type;
    x.engine.prefix_cache = t.prefix_cache;
    x.url = t.url;
    x.model = t.remote_model;
    x.api_key_env = t.api_key_env;
    o.targets.push_back(std::move(x));
  }
  return o;
}

namespace {

void add(engine_stats& to, const engine_stats& s) {
  to.steps += s.steps;
  to.max_batch_sequences = std::max(to.max_batch_sequences, s.max_batch_sequences);
  to.completed += s.completed;
  to.failed += s.failed;
  to.prompt_tokens += s.prompt_tokens;
  to.prefix_hit_tokens += s.prefix_hit_tokens;
  to.prompt_tokens_computed += s.prompt_tokens_computed;
  to.kv_evictions += s.kv_evictions;
  to.preemptions += s.preemptions;
  to.recomputed_tokens += s.recomputed_tokens;
}

/// The engines the pools' local targets started. A stopped engine's counters move into
/// `retired` (under the lock, before it is destroyed), so a pointer in `live_` is always valid.
class engine_ledger {
public:
  std::shared_ptr<inference_client> track(std::shared_ptr<engine_client> engine,
                                          const std::shared_ptr<engine_ledger>& self) {
    engine_client* raw = engine.get();
    {
      std::lock_guard<std::mutex> guard{mutex_};
      live_.insert(raw);
    }
    return std::shared_ptr<inference_client>(raw, [self, engine = std::move(engine)](inference_client*) mutable {
      {
        std::lock_guard<std::mutex> guard{self->mutex_};
        add(self->retired_, engine->stats());
        self->live_.erase(engine.get());
      }
      engine.reset();  // outside the lock: stopping joins the engine's worker
    });
  }
  engine_stats totals() const {
    std::lock_guard<std::mutex> guard{mutex_};
    engine_stats t = retired_;
    for (const auto* e : live_) add(t, e->stats());
    return t;
  }

private:
  mutable std::mutex mutex_;
  std::set<engine_client*> live_;
  engine_stats retired_;
};

class router final : public scenario_inference {
public:
  router(std::map<std::string, std::shared_ptr<inference_pool>> pools,
         std::map<std::string, std::shared_ptr<inference_pool>> by_profile, std::shared_ptr<engine_ledger> ledger)
      : pools_(std::move(pools)), by_profile_(std::move(by_profile)), ledger_(std::move(ledger)) {}
  ~router() override { shutdown(); }

  void generate(generation_request request, piece_callback on_piece, done_callback on_done) override {
    auto it = by_profile_.find(request.profile);
    if (it == by_profile_.end()) {
      on_done(fail(errc::not_found, fmt::format("no inference pool for profile '{}'", request.profile)));
      return;
    }
    it->second->generate(std::move(request), std::move(on_piece), std::move(on_done));
  }
  void cancel(std::string_view request_id) override {
    for (auto& [name, p] : pools_) p->cancel(request_id);  // ids are unique: one pool knows it
  }
  void shutdown() override {
    for (auto& [name, p] : pools_) p->shutdown();
  }
  std::map<std::string, std::shared_ptr<inference_pool>> pools() const override { return pools_; }
  engine_stats engine_totals() const override { return ledger_->totals(); }

private:
  std::map<std::string, std::shared_ptr<inference_pool>> pools_;
  std::map<std::string, std::shared_ptr<inference_pool>> by_profile_;
  std::shared_ptr<engine_ledger> ledger_;
};

} // namespace

result<std::shared_ptr<scenario_inference>> make_scenario_inference(const scenario& s,
                                                                    scenario_inference_options options) {
  std::map<std::string, std::string> pool_of;        // profile -> pool name
  std::map<std::string, std::size_t> context_of;     // pool name -> longest context
  std::map<std::string, std::string> auto_pool_of;   // model path -> automatic pool name
  std::map<std::string, pool_options> auto_pools;
  for (const auto& [name, p] : s.profiles) {
    if (!options.profiles.empty() && !options.profiles.count(name)) continue;
    std::string pool = !p.pool.empty() ? p.pool : s.pools.count("default") ? "default" : "";
    const auto ctx = static_cast<std::size_t>(std::max(p.context_tokens, 1));
    if (pool.empty()) {
      auto [it, fresh] = auto_pool_of.emplace(p.model, fmt::format("auto-{}", auto_pool_of.size() + 1));
      pool = it->second;
      if (fresh) {
        target_options t;
        t.name = fmt::format("local-{}", auto_pool_of.size());
        t.capacity = options.max_sequences;
        t.engine.default_model = p.model;
        t.engine.max_sequences = options.max_sequences;
        auto_pools[pool].targets.push_back(std::move(t));
      }
    }
    pool_of[name] = pool;
    context_of[pool] = std::max(context_of[pool], ctx);
  }
  // Local engines are made here (unless the caller brought its own `local` factory) so that
  // their counters can be summed for the run's summary.
  auto ledger = std::make_shared<engine_ledger>();
  if (!options.factories.count("local"))
    options.factories["local"] = [ledger](const target_options& t) -> result<std::shared_ptr<inference_client>> {
      auto e = make_engine_client(t.engine);
      if (!e) return tl::make_unexpected(e.error());
      return ledger->track(std::move(*e), ledger);
    };
  std::map<std::string, std::shared_ptr<inference_pool>> pools;
  for (const auto& [name, ctx] : context_of) {
    pool_options o;
    if (auto a = auto_pools.find(name); a != auto_pools.end()) {
      o = a->second;
      o.targets.front().engine.context_tokens = ctx;
      o.stall_timeout_ms = 0;  // as before pools: a long prefill on a big model is no stall
    } else {
      o = pool_options_for(s.pools.at(name), ctx);
    }
    for (const auto& [kind, f] : options.factories) o.factories[kind] = f;
    auto made = make_inference_pool(std::move(o));
    if (!made) return fail(made.error().code, fmt::format("pool '{}': {}", name, made.error().message));
    pools[name] = std::move(*made);
  }
  std::map<std::string, std::shared_ptr<inference_pool>> by_profile;
  for (const auto& [profile, pool] : pool_of) by_profile[profile] = pools.at(pool);
  return std::shared_ptr<scenario_inference>(std::make_shared<router>(std::move(pools), std::move(by_profile), std::move(ledger)));
}

} // namespace troupe::runtime
