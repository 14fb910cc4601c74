// The balancing policies (see balancer.hpp).
#include "troupe/runtime/balancer.hpp"

#include <array>

namespace troupe::runtime {

namespace {

constexpr std::array<std::string_view, 5> policy_names{
    "round_robin", "random", "weighted_random", "weighted_least_tokens", "weighted_p2c"};

/// Expected finish of a request of `cost` tokens on `t`, in token-times of a weight-1 slot:
/// the target's outstanding tokens spread over its slots (the work ahead of each sequence,
/// or in its queue) plus the request's own tokens, at the target's speed (its weight).
double weighted_load(const target_snapshot& t, std::size_t cost) {
  const double slots = static_cast<double>(std::max<std::size_t>(t.slots, 1));
  return (static_cast<double>(t.outstanding_tokens) / slots + static_cast<double>(cost)) / t.weight;
}

/// A uniform double in [0, 1) from the generator (portable across standard libraries,
/// unlike std::uniform_real_distribution, so seeded runs choose the same everywhere).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// Weighted-random index among `eligible` (indices into `targets`), skipping `skip`.
std::optional<std::size_t> weighted_pick(const std::vector<target_snapshot>& targets,
                                         const std::vector<std::size_t>& eligible,
                                         std::mt19937_64& rng, std::optional<std::size_t> skip = {}) {
  double total = 0;
  for (auto i : eligible)
    if (i != skip) total += targets[i].weight;
  if (total <= 0) return std::nullopt;
  double x = unit(rng) * total;
  std::optional<std::size_t> last;
  for (auto i : eligible) {
    if (i == skip) continue;
    last = i;
    if (x < targets[i].weight) return i;
    x -= targets[i].weight;
  }
  return last;  // rounding left x just above the sum
}

/// True when `a` is a better choice than `b` for least-load policies.
bool less_loaded(const std::vector<target_snapshot>& t, std::size_t a, std::size_t b, std::size_t cost) {
  const double la = weighted_load(t[a], cost), lb = weighted_load(t[b], cost);
  if (la != lb) return la < lb;
  if (t[a].weight != t[b].weight) return t[a].weight > t[b].weight;
  return a < b;
}

} // namespace

std::string_view to_string(balance_policy p) { return policy_names[static_cast<std::size_t>(p)]; }

std::optional<balance_policy> parse_balance_policy(std::string_view name) {
  for (std::size_t i = 0; i < policy_names.size(); ++i)
    if (policy_names[i] == name) return static_cast<balance_policy>(i);
  return std::nullopt;
}

std::vector<std::string> balance_policy_names() { return {policy_names.begin(), policy_names.end()}; }

std::string_view to_string(target_health h) {
  switch (h) {
    case target_health::up: return "up";
    case target_health::draining: return "draining";
    case target_health::down: return "down";
  }
  return "?";
}

std::optional<std::size_t> balancer::choose(const std::vector<target_snapshot>& targets,
                                            std::size_t cost_tokens, std::mt19937_64& rng) {
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (targets[i].eligible() && targets[i].weight > 0) eligible.push_back(i);
  if (eligible.empty()) return std::nullopt;
  switch (policy_) {
    case balance_policy::round_robin: {
      for (std::size_t k = 0; k < targets.size(); ++k) {
        const std::size_t i = (cursor_ + k) % targets.size();
        if (targets[i].eligible()) {
          cursor_ = i + 1;
          return i;
        }
      }
      return std::nullopt;
    }
    case balance_policy::random:
      return eligible[static_cast<std::size_t>(unit(rng) * static_cast<double>(eligible.size()))];
    case balance_policy::weighted_random:
      return weighted_pick(targets, eligible, rng);
    case balance_policy::weighted_least_tokens: {
      std::size_t best = eligible.front();
      for (auto i : eligible)
        if (less_loaded(targets, i, best, cost_tokens)) best = i;
      return best;
    }
    case balance_policy::weighted_p2c: {
      const auto a = weighted_pick(targets, eligible, rng);
      const auto b = weighted_pick(targets, eligible, rng, a);
      if (!b) return a;
      return less_loaded(targets, *a, *b, cost_tokens) ? a : b;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> balancer::choose_with_affinity(const std::vector<target_snapshot>& targets,
                                                          std::optional<std::size_t> preferred,
                                                          std::size_t cost_tokens, std::mt19937_64& rng) {
  if (preferred && *preferred < targets.size() && targets[*preferred].eligible()) return preferred;
  return choose(targets, cost_tokens, rng);
}

} // namespace troupe::runtime
