// Load-balancing policies of the inference pool: pure, deterministic choices over snapshots of
// the targets (no clocks, no threads; randomness only from the generator passed in), so that
// tests and the benchmark can drive them exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::runtime {

/// How the pool picks a target for a request.
enum class balance_policy {
  round_robin,       ///< next eligible target in turn, weights ignored
  random,            ///< uniformly random eligible target, weights ignored
  weighted_random,   ///< random, probability proportional to weight
  /// least expected finish: (outstanding tokens / slots + the request's tokens) / weight
  /// (ties: higher weight, lower index)
  weighted_least_tokens,
  weighted_p2c,      ///< two weighted-random candidates, the one with less load per weight wins
};

/// Health of a target as the pool sees it.
enum class target_health {
  up,       ///< takes new requests
  draining, ///< finishes what it has, takes nothing new (elastic shrink, shutdown)
  down,     ///< dead or stalled; its requests were moved elsewhere
};

/// What the balancer knows about one target at the moment of choosing.
struct target_snapshot {
  double weight = 1.0;                ///< relative capacity (> 0)
  target_health health = target_health::up;
  std::size_t outstanding = 0;        ///< requests assigned and not finished
  std::size_t outstanding_tokens = 0; ///< estimated tokens (prompt + max_tokens) of those
  std::size_t capacity = 1;           ///< most requests it may hold at once (running + its own queue)
  std::size_t slots = 1;              ///< requests it runs at once (e.g. an engine's max_sequences)
  /// True when it is up and has a free slot.
  [[nodiscard]] bool eligible() const { return health == target_health::up && outstanding < capacity; }
};

/// Text name of a policy as written in YAML ("weighted_p2c", ...).
[[nodiscard]] std::string_view to_string(balance_policy p);
/// The policy named `name`, or nullopt.
[[nodiscard]] std::optional<balance_policy> parse_balance_policy(std::string_view name);
/// Every policy name, in enum order (for messages and the benchmark).
[[nodiscard]] std::vector<std::string> balance_policy_names();
/// Text name of a health state.
[[nodiscard]] std::string_view to_string(target_health h);

/// Chooses targets by one policy. Holds only the round-robin cursor; not thread-safe (the
/// pool calls it from its own actor).
class balancer {
public:
  explicit balancer(balance_policy policy = balance_policy::weighted_least_tokens) : policy_(policy) {}

  /// Index of the target for a request of `cost_tokens` estimated tokens, among eligible
  /// targets only (up, with a free slot); nullopt when none is eligible.
  [[nodiscard]] std::optional<std::size_t> choose(const std::vector<target_snapshot>& targets,
                                                  std::size_t cost_tokens, std::mt19937_64& rng);

  /// Like `choose`, but first keeps `preferred` (the target holding the agent's session)
  /// when it is eligible; otherwise (absent, down, draining or full) falls back to `choose`.
  [[nodiscard]] std::optional<std::size_t> choose_with_affinity(
      const std::vector<target_snapshot>& targets, std::optional<std::size_t> preferred,
      std::size_t cost_tokens, std::mt19937_64& rng);

  [[nodiscard]] balance_policy policy() const { return policy_; }

private:
  balance_policy policy_;
  std::size_t cursor_ = 0; ///< round_robin: index tried first next time
};

} // namespace troupe::runtime
