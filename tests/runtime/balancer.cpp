// The balancing policies: exact behaviour of the deterministic ones, weight-proportional
// distribution of the weighted ones over 10,000 requests, and the affinity layer.
#include <doctest/doctest.h>

#include <troupe/runtime/balancer.hpp>

using namespace troupe::runtime;

namespace {

std::vector<target_snapshot> targets(std::vector<double> weights, std::size_t capacity = 1000000) {
  std::vector<target_snapshot> v;
  for (double w : weights) v.push_back(target_snapshot{w, target_health::up, 0, 0, capacity});
  return v;
}

/// Share of each target over `n` choices with no load feedback.
std::vector<double> shares(balancer& b, std::vector<target_snapshot> t, int n, std::uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::vector<double> count(t.size(), 0.0);
  for (int i = 0; i < n; ++i) {
    auto pick = b.choose(t, 10, rng);
    REQUIRE(pick);
    count[*pick] += 1;
  }
  for (auto& c : count) c /= n;
  return count;
}

/// A discrete simulation: one request of `cost` tokens arrives per step; target i works off
/// weight_i * rate tokens per step. Under saturation the least-load policies must send each
/// target a share proportional to its speed (= its weight).
std::vector<double> simulated_shares(balance_policy p, std::vector<double> speeds, int n) {
  balancer b(p);
  std::mt19937_64 rng(7);
  auto t = targets(speeds);
  std::vector<double> work(t.size(), 0.0);
  std::vector<double> count(t.size(), 0.0);
  const double cost = 100, total_speed = 7.0;
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < t.size(); ++k) {
      work[k] = std::max(0.0, work[k] - speeds[k] * cost / total_speed * 1.05);
      t[k].outstanding_tokens = static_cast<std::size_t>(work[k]);
      t[k].outstanding = static_cast<std::size_t>(work[k] / cost);
    }
    auto pick = b.choose(t, static_cast<std::size_t>(cost), rng);
    REQUIRE(pick);
    work[*pick] += cost;
    count[*pick] += 1;
  }
  for (auto& c : count) c /= n;
  return count;
}

void check_proportional(const std::vector<double>& got, const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double want = weights[i] / total;
    CAPTURE(i);
    CAPTURE(got[i]);
    CHECK(got[i] == doctest::Approx(want).epsilon(0.05));  // within +-5% of the expected share
  }
}

} // namespace

TEST_CASE("policy names round-trip") {
  for (const auto& n : balance_policy_names()) {
    auto p = parse_balance_policy(n);
    REQUIRE(p);
    CHECK(to_string(*p) == n);
  }
  CHECK_FALSE(parse_balance_policy("fastest"));
}

TEST_CASE("round robin cycles over eligible targets and skips full or down ones") {
  balancer b(balance_policy::round_robin);
  std::mt19937_64 rng(1);
  auto t = targets({1, 4, 2});
  std::vector<std::size_t> seq;
  for (int i = 0; i < 6; ++i) seq.push_back(*b.choose(t, 1, rng));
  CHECK(seq == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
  t[1].health = target_health::draining;
  t[2].outstanding = t[2].capacity;
  CHECK(*b.choose(t, 1, rng) == 0);
  CHECK(*b.choose(t, 1, rng) == 0);
  t[0].health = target_health::down;
  CHECK_FALSE(b.choose(t, 1, rng));
}

TEST_CASE("weighted random follows the weights within 5% over 10,000 requests") {
  balancer b(balance_policy::weighted_random);
  check_proportional(shares(b, targets({1, 2, 4}), 10000), {1, 2, 4});
  balancer u(balance_policy::random);
  check_proportional(shares(u, targets({1, 2, 4}), 10000), {1, 1, 1});
}

TEST_CASE("least-load policies follow the targets' speeds within 5% under saturation") {
  check_proportional(simulated_shares(balance_policy::weighted_least_tokens, {1, 2, 4}, 10000), {1, 2, 4});
  check_proportional(simulated_shares(balance_policy::weighted_p2c, {1, 2, 4}, 10000), {1, 2, 4});
}

TEST_CASE("weighted least tokens picks the least load per weight, ties to the heavier target") {
  balancer b(balance_policy::weighted_least_tokens);
  std::mt19937_64 rng(1);
  auto t = targets({1, 4});
  CHECK(*b.choose(t, 10, rng) == 1);  // equal (zero) load: the heavier one
  t[1].outstanding_tokens = 100;      // 110/4 = 27.5 vs 10/1
  CHECK(*b.choose(t, 10, rng) == 0);
  t[0].outstanding_tokens = 30;       // 40/1 vs 27.5
  CHECK(*b.choose(t, 10, rng) == 1);
}

TEST_CASE("affinity keeps the session's target until it is full, draining or down") {
  balancer b(balance_policy::round_robin);
  std::mt19937_64 rng(1);
  auto t = targets({1, 1, 1}, 2);
  for (int i = 0; i < 5; ++i) CHECK(*b.choose_with_affinity(t, 2, 1, rng) == 2);
  t[2].outstanding = 2;  // full: falls back
  CHECK(*b.choose_with_affinity(t, 2, 1, rng) != 2);
  t[2].outstanding = 0;
  t[2].health = target_health::draining;
  CHECK(*b.choose_with_affinity(t, 2, 1, rng) != 2);
  t[2].health = target_health::down;
  CHECK(*b.choose_with_affinity(t, 2, 1, rng) != 2);
  CHECK(*b.choose_with_affinity(t, std::nullopt, 1, rng) < 2);
}

TEST_CASE("weighted least tokens spreads a target's backlog over its slots") {
  balancer b(balance_policy::weighted_least_tokens);
  std::mt19937_64 rng(1);
  std::vector<target_snapshot> t{{1, target_health::up, 4, 400, 8, 4},   // 100 per slot
                                 {1, target_health::up, 1, 200, 8, 1}};  // 200 in its one slot
  CHECK(*b.choose(t, 10, rng) == 0);
  t[0].slots = 1;  // the same backlog in one slot: now the other is sooner
  CHECK(*b.choose(t, 10, rng) == 1);
  t[1].weight = 0.5;  // (200 + 10) / 0.5 = 420 > 410
  CHECK(*b.choose(t, 10, rng) == 0);
}
