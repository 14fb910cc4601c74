// pools: inference pools (targets, balancing policy, affinity, failover and elastic settings),
// and the check that every profile's `pool` names one.
#include <fmt/format.h>

#include "decode.hpp"

namespace troupe::runtime::detail {

namespace {

const std::vector<std::string> target_kinds{"local", "openai"};
const std::vector<std::string> kv_types{"f16", "f32"};

void decode_target(const ynode& n, std::size_t index, const std::string& pool, reporter& rep,
                   pool_spec& out) {
  const auto what = fmt::format("target #{} of pool '{}'", index + 1, pool);
  if (!expect_map(n, what, rep)) return;
  map_reader r(n, what, rep,
               {"name", "kind", "node", "weight", "count", "min", "max", "capacity", "model", "threads",
                "max_sequences", "prefill_chunk_tokens", "queue_capacity", "context_tokens",
                "kv_budget_mb", "kv_block_tokens", "kv_type", "prefix_cache", "url", "api_key_env"});
  pool_target_spec t;
  t.at = n.at;
  r.str("name", t.name, true);
  int kind = 0;
  if (r.choice("kind", target_kinds, kind)) t.kind = target_kinds[static_cast<std::size_t>(kind)];
  r.str("node", t.node);
  r.real("weight", t.weight, 0.0, 1e6, true);
  int count = 0;
  if (r.integer("count", count, 1, 1024)) t.min_count = t.max_count = count;
  r.integer("min", t.min_count, 1, 1024);
  r.integer("max", t.max_count, 1, 1024);
  r.integer("capacity", t.capacity, 1, 1 << 16);
  r.str("model", t.kind == "local" ? t.model : t.remote_model, true);
  const bool local = t.kind == "local";
  for (const char* k : {"threads", "max_sequences", "prefill_chunk_tokens", "queue_capacity", "context_tokens",
                        "kv_budget_mb", "kv_block_tokens", "kv_type", "prefix_cache"}) {
    if (!local && n.find(k))
      rep.error(*n.find(k), fmt::format("'{}' in {} applies to kind local only", k, what),
                "remove it, or use kind: local");
  }
  for (const char* k : {"url", "api_key_env"}) {
    if (local && n.find(k))
      rep.error(*n.find(k), fmt::format("'{}' in {} applies to kind openai only", k, what),
                "remove it, or use kind: openai");
  }
  r.integer("threads", t.threads, 0, 1024);
  r.integer("max_sequences", t.max_sequences, 1, 1024);
  r.integer("prefill_chunk_tokens", t.prefill_chunk_tokens, 1, 1 << 20);
  r.integer("queue_capacity", t.queue_capacity, 1, 1 << 20);
  r.integer("context_tokens", t.context_tokens, 16, 1 << 22);
  r.integer("kv_budget_mb", t.kv_budget_mb, 0, 1 << 24);
  r.integer("kv_block_tokens", t.kv_block_tokens, 1, 1 << 16);
  int kv_type = 0;
  if (r.choice("kv_type", kv_types, kv_type)) t.kv_type = kv_types[static_cast<std::size_t>(kv_type)];
  int prefix_cache = 1;
  if (r.choice("prefix_cache", {"false", "true"}, prefix_cache)) t.prefix_cache = prefix_cache == 1;
  r.str("url", t.url, !local);
  r.str("api_key_env", t.api_key_env);
  if (n.find("count") && (n.find("min") || n.find("max")))
    rep.error(*n.find("count"), fmt::format("{} gives both 'count' and 'min'/'max'", what),
              "use count for a fixed size, or min and max for an elastic group");
  if (t.min_count > t.max_count)
    rep.error(*(n.find("min") ? n.find("min") : &n),
              fmt::format("{} has min {} above max {}", what, t.min_count, t.max_count),
              "min must be <= max");
  if (!t.name.empty() && !valid_name(t.name))
    rep.error(*n.find("name"), fmt::format("invalid target name '{}'", t.name), "use letters, digits, '_' and '-'");
  for (const auto& other : out.targets)
    if (!t.name.empty() && other.name == t.name)
      rep.error(*n.find("name"), fmt::format("duplicate target name '{}' in pool '{}'", t.name, pool),
                fmt::format("the first '{}' is at line {}", t.name, other.at.line));
  out.targets.push_back(std::move(t));
}

void decode_pool(const ynode& e, reporter& rep, scenario& out) {
  const auto what = fmt::format("pool '{}'", e.key);
  if (!valid_name(e.key)) {
    rep.key_error(e, fmt::format("invalid pool name '{}'", e.key), "use letters, digits, '_' and '-'");
    return;
  }
  if (!expect_map(e, what, rep)) return;
  map_reader r(e, what, rep,
               {"policy", "affinity", "queue_capacity", "stall_timeout_ms", "max_attempts", "failures_before_down",
                "elastic", "targets"});
  pool_spec p;
  p.name = e.key;
  p.at = e.key_at;
  int policy = 0;
  if (r.choice("policy", balance_policy_names(), policy)) p.policy = static_cast<balance_policy>(policy);
  int affinity = 1;
  if (r.choice("affinity", {"false", "true"}, affinity)) p.affinity = affinity == 1;
  r.integer("queue_capacity", p.queue_capacity, 0, 1 << 20);
  r.integer("stall_timeout_ms", p.stall_timeout_ms, 0, INT64_MAX / 4);
  r.integer("max_attempts", p.max_attempts, 1, 100);
  r.integer("failures_before_down", p.failures_before_down, 0, 1000);
  if (const auto* el = r.get("elastic"); el && el->type != ynode::kind::null && expect_map(*el, "'elastic'", rep)) {
    map_reader er(*el, fmt::format("'elastic' of {}", what), rep,
                  {"tick_ms", "high_utilisation", "low_utilisation", "grow_after_ticks", "shrink_after_ticks"});
    er.integer("tick_ms", p.tick_ms, 10, 3600000);
    er.real("high_utilisation", p.high_utilisation, 0.0, 1.0, true);
    er.real("low_utilisation", p.low_utilisation, 0.0, 1.0);
    er.integer("grow_after_ticks", p.grow_after_ticks, 1, 100000);
    er.integer("shrink_after_ticks", p.shrink_after_ticks, 1, 100000);
    if (p.low_utilisation >= p.high_utilisation)
      rep.error(*el, fmt::format("'elastic' of {}: low_utilisation must be below high_utilisation", what),
                "e.g. high_utilisation: 0.8, low_utilisation: 0.25");
  }
  if (const auto* ts = r.get("targets", true); ts && expect_seq(*ts, fmt::format("'targets' of {}", what), rep)) {
    if (ts->items.empty())
      rep.error(*ts, fmt::format("{} has no targets", what), "list at least one, e.g. - {name: cpu, model: m.gguf}");
    for (std::size_t i = 0; i < ts->items.size(); ++i) decode_target(ts->items[i], i, p.name, rep, p);
  }
  out.pools[p.name] = std::move(p);
}

} // namespace

void decode_pools(const ynode& n, reporter& rep, scenario& out) {
  if (!expect_map(n, "'pools'", rep)) return;
  for (const auto& e : n.items) decode_pool(e, rep, out);
}

void validate_pools(const scenario& s, const ynode& root, reporter& rep) {
  std::vector<std::string> names;
  for (const auto& [k, p] : s.pools) names.push_back(k);
  const auto* profiles = root.find("profiles");
  for (const auto& [name, p] : s.profiles) {
    if (p.pool.empty() || s.pools.count(p.pool)) continue;
    const ynode* at = profiles ? profiles->find(name) : nullptr;
    if (at && at->find("pool")) at = at->find("pool");
    const auto guess = closest_match(p.pool, names);
    std::string list;
    for (const auto& k : names) list += (list.empty() ? "" : ", ") + k;
    rep.error(at ? *at : root, fmt::format("profile '{}' uses unknown pool '{}'", name, p.pool),
              !guess.empty() ? fmt::format("did you mean '{}'?", guess)
              : list.empty() ? std::string{"no pools are declared; add a 'pools:' section or remove 'pool'"}
                             : fmt::format("declared pools: {}", list));
  }
}

} // namespace troupe::runtime::detail
