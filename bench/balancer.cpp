// Benchmark 3: request latency of each balancing policy on heterogeneous targets.
//
// A discrete-event simulation (virtual time, no threads, no sleeps): three targets serve at
// 1x, 2x and 4x speed, each with `--slots` concurrent sequences; requests arrive open-loop
// (Poisson) at `--load` times the total capacity, wait in the pool's FIFO queue when every
// slot is taken, and are placed by troupe's own `balancer` (the code the pool runs) on the
// same snapshots the pool builds. The numbers depend only on the seed, not on machine load;
// the balancer's own cost per choice is measured for real and printed too. Each set-up runs
// twice: the pool holds every waiting request (`pool queue`), or each target also queues up
// to --target-queue requests of its own (`target queues`).
// --real runs the same through the real inference_pool (actors, messages, admission) on
// simulated targets that serve in wall-clock time (bench/balancer_real.hpp); noisy under load.
//
//   bench_balancer [--real] [--requests N] [--slots S] [--target-queue Q] [--load 0.5,0.7,0.9] [--seed N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <troupe/runtime/balancer.hpp>

#include "balancer_real.hpp"

using troupe::runtime::balance_policy;
using troupe::runtime::balancer;
using troupe::runtime::target_snapshot;

namespace {

struct options {
  std::size_t requests = 100000;
  std::size_t slots = 4;
  std::size_t target_queue = 16;
  std::vector<double> loads{0.5, 0.7, 0.9};
  std::uint64_t seed = 1;
  bool json = false;
  bool real = false;               ///< through the real pool, in real time
  double real_tokens_per_s = 4000;  ///< --real: one 1x slot (mean request ~40 ms at 1x)
};

constexpr double speeds[] = {1.0, 2.0, 4.0};      // relative service rates of the targets
constexpr double tokens_per_s_1x = 100.0;          // one slot of the 1x target
constexpr std::size_t min_cost = 32, max_cost = 288; // tokens per request, uniform

struct running {
  double start = 0, end = 0;
  std::size_t cost = 0;
};

struct waiting {
  double arrived = 0;
  std::size_t cost = 0;
};

struct result_row {
  std::string mode;
  std::string policy;
  double load = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  std::vector<double> share;  // requests per target
};

/// `target_queue`: requests a target accepts beyond its slots, waiting in its own FIFO (0: the
/// pool holds every waiting request and places it when a slot frees).
result_row make_row(balance_policy policy, double load, std::string mode, std::vector<double> latency,
                    std::vector<double> share) {
  result_row row;
  row.mode = std::move(mode);
  row.policy = std::string(troupe::runtime::to_string(policy));
  row.load = load;
  row.share = std::move(share);
  if (latency.empty()) return row;
  std::sort(latency.begin(), latency.end());
  auto pct = [&](double p) { return latency[static_cast<std::size_t>(p * static_cast<double>(latency.size() - 1))]; };
  row.p50_ms = pct(0.50) * 1000;
  row.p99_ms = pct(0.99) * 1000;
  double sum = 0;
  for (double l : latency) sum += l;
  row.mean_ms = sum / static_cast<double>(latency.size()) * 1000;
  return row;
}

result_row simulate(balance_policy policy, double load, std::size_t target_queue, const options& o) {
  const std::size_t n_targets = std::size(speeds);
  double capacity_tok_s = 0;
  for (double s : speeds) capacity_tok_s += s * tokens_per_s_1x * static_cast<double>(o.slots);
  const double mean_cost = (min_cost + max_cost) / 2.0;
  const double arrival_rate = load * capacity_tok_s / mean_cost;  // requests per second

  std::mt19937_64 arrivals(o.seed), sizes(o.seed + 1), rng(o.seed + 2);
  std::exponential_distribution<double> gap(arrival_rate);
  std::uniform_int_distribution<std::size_t> size(min_cost, max_cost);
  balancer b(policy);
  std::vector<std::vector<running>> run(n_targets);
  std::vector<std::deque<waiting>> wait(n_targets);
  using event = std::pair<double, std::size_t>;  // completion time, target
  std::priority_queue<event, std::vector<event>, std::greater<>> done;
  std::deque<std::pair<double, std::size_t>> queue;  // arrival time, cost
  std::vector<double> latency;
  std::vector<double> count(n_targets, 0);
  latency.reserve(o.requests);
  double now = 0, next_arrival = gap(arrivals);
  std::size_t arrived = 0;

  auto start = [&](std::size_t t, waiting w) {
    const double service = static_cast<double>(w.cost) / (speeds[t] * tokens_per_s_1x);
    run[t].push_back({now, now + service, w.cost});
    done.push({now + service, t});
    latency.push_back(now + service - w.arrived);  // the service time is fixed when it starts
  };
  auto dispatch = [&] {
    while (!queue.empty()) {
      std::vector<target_snapshot> snap(n_targets);
      for (std::size_t t = 0; t < n_targets; ++t) {
        double left = 0;  // tokens still to do on this target
        for (const auto& r : run[t]) left += static_cast<double>(r.cost) * (r.end - now) / (r.end - r.start);
        for (const auto& w : wait[t]) left += static_cast<double>(w.cost);
        snap[t] = target_snapshot{speeds[t], troupe::runtime::target_health::up, run[t].size() + wait[t].size(),
                                  static_cast<std::size_t>(left), o.slots + target_queue, o.slots};
      }
      const auto pick = b.choose(snap, queue.front().second, rng);
      if (!pick) return;
      const auto [arrived_at, cost] = queue.front();
      queue.pop_front();
      count[*pick] += 1;
      if (run[*pick].size() < o.slots) start(*pick, {arrived_at, cost});
      else wait[*pick].push_back({arrived_at, cost});
    }
  };

  while (arrived < o.requests || !done.empty()) {
    if (arrived < o.requests && (done.empty() || next_arrival <= done.top().first)) {
      now = next_arrival;
      queue.emplace_back(now, size(sizes));
      ++arrived;
      next_arrival = now + gap(arrivals);
    } else {
      const auto [t_end, target] = done.top();
      done.pop();
      now = t_end;
      auto& r = run[target];
      r.erase(std::find_if(r.begin(), r.end(), [t_end = t_end](const running& x) { return x.end == t_end; }));
      if (!wait[target].empty()) {  // the target's own queue moves first
        auto w = wait[target].front();
        wait[target].pop_front();
        start(target, w);
      }
    }
    dispatch();
  }
  for (auto& c : count) c /= static_cast<double>(latency.size());
  return make_row(policy, load, target_queue == 0 ? "pool_queue" : "target_queues", std::move(latency), count);
}

/// The same through the real inference_pool on timed targets (wall-clock time).
result_row real_run(balance_policy policy, double load, std::size_t target_queue, const options& o) {
  const std::vector<double> sp(std::begin(speeds), std::end(speeds));
  double capacity_tok_s = 0;
  for (double s : sp) capacity_tok_s += s * o.real_tokens_per_s * static_cast<double>(o.slots);
  const double rate = load * capacity_tok_s / ((min_cost + max_cost) / 2.0);
  std::vector<double> share;
  auto latency = bench::run_real_pool(policy, sp, o.slots, target_queue, o.real_tokens_per_s, rate, o.requests,
                                      min_cost, max_cost, o.seed, share);
  return make_row(policy, load, target_queue == 0 ? "real_pool_queue" : "real_target_queues", std::move(latency),
                  share);
}

/// Real cost of one choice (ns), on three loaded snapshots.
double choose_ns(balance_policy policy) {
  balancer b(policy);
  std::mt19937_64 rng(1);
  std::vector<target_snapshot> snap{{1, troupe::runtime::target_health::up, 1, 100, 4, 4},
                                    {2, troupe::runtime::target_health::up, 2, 300, 4, 4},
                                    {4, troupe::runtime::target_health::up, 3, 500, 4, 4}};
  const int n = 1000000;
  std::size_t sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) sink += *b.choose(snap, 100 + (i & 63), rng);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (sink == 42) std::puts("");  // keeps the loop
  return s / n * 1e9;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--json") o.json = true;
    else if (a == "--real") o.real = true;
    else if (a == "--requests" && i + 1 < argc) o.requests = std::stoul(next());
    else if (a == "--slots" && i + 1 < argc) o.slots = std::stoul(next());
    else if (a == "--target-queue" && i + 1 < argc) o.target_queue = std::stoul(next());
    else if (a == "--seed" && i + 1 < argc) o.seed = std::stoull(next());
    else if (a == "--load" && i + 1 < argc) {
      o.loads.clear();
      std::string list = next();
      for (std::size_t p = 0; p <= list.size();) {
        const auto comma = std::min(list.find(',', p), list.size());
        o.loads.push_back(std::stod(list.substr(p, comma - p)));
        p = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: bench_balancer [--real] [--requests N] [--slots S] [--target-queue Q] [--load a,b,c] [--seed N] [--json]\n");
      return false;
    }
  }
  return o.requests > 0 && o.slots > 0 && !o.loads.empty();
}

} // namespace

int main(int argc, char** argv) {
  options o;
  bool requests_given = false;
  for (int i = 1; i < argc; ++i) requests_given = requests_given || std::strcmp(argv[i], "--requests") == 0;
  if (!parse(argc, argv, o)) return 2;
  if (o.real && !requests_given) o.requests = 2000;
  const balance_policy policies[] = {balance_policy::round_robin, balance_policy::random,
                                     balance_policy::weighted_random, balance_policy::weighted_least_tokens,
                                     balance_policy::weighted_p2c};
  std::vector<result_row> rows;
  for (std::size_t tq : {std::size_t{0}, o.target_queue})
    for (double load : o.loads)
      for (auto p : policies) rows.push_back(o.real ? real_run(p, load, tq, o) : simulate(p, load, tq, o));
  auto rr_of = [&](const result_row& x) {
    for (const auto& r : rows)
      if (r.mode == x.mode && r.load == x.load && r.policy == "round_robin") return r;
    return rows.front();
  };
  std::vector<double> cost_ns;
  for (auto p : policies) cost_ns.push_back(choose_ns(p));
  auto ns_of = [&](const result_row& r) {
    return cost_ns[static_cast<std::size_t>(troupe::runtime::parse_balance_policy(r.policy).value())];
  };
  if (o.json) {
    std::string out = fmt::format("{{\"bench\": \"balancer\", \"simulation\": \"{}\", \"speeds\": [1, 2, 4], "
                                  "\"slots\": {}, \"target_queue\": {}, \"requests\": {}, \"seed\": {}, \"rows\": [",
                                  o.real ? "real_pool" : "discrete_event", o.slots, o.target_queue, o.requests, o.seed);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      const auto rr = rr_of(r);
      out += fmt::format("{}{{\"mode\": \"{}\", \"policy\": \"{}\", \"load\": {}, \"p50_ms\": {:.3f}, \"p99_ms\": {:.3f}, "
                         "\"mean_ms\": {:.3f}, \"p99_vs_round_robin\": {:.4f}, \"share\": [{:.4f}, {:.4f}, {:.4f}], "
                         "\"choose_ns\": {:.1f}}}",
                         i ? ", " : "", r.mode, r.policy, r.load, r.p50_ms, r.p99_ms, r.mean_ms, r.p99_ms / rr.p99_ms,
                         r.share[0], r.share[1], r.share[2], ns_of(r));
    }
    fmt::print("{}]}}\n", out);
    return 0;
  }
  fmt::print("bench_balancer: {}, targets at 1x/2x/4x speed, {} slots each, "
             "{} requests of {}-{} tokens per run, Poisson arrivals, seed {}\n\n",
             o.real ? fmt::format("the real inference_pool on timed targets (wall clock; a 1x slot does {:.0f} tokens/s)",
                                  o.real_tokens_per_s)
                    : std::string("discrete-event simulation (virtual time)"),
             o.slots, o.requests, min_cost, max_cost, o.seed);
  std::string mode;
  fmt::print("{:>5} {:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>20} {:>10}\n", "load", "policy", "p50 ms",
             "p99 ms", "mean ms", "p50/rr", "p99/rr", "share 1x/2x/4x", "choose ns");
  for (const auto& r : rows) {
    const auto rr = rr_of(r);
    if (r.mode != mode) {
      mode = r.mode;
      fmt::print("-- {} --\n", mode.find("pool_queue") != std::string::npos ? "pool queue: each target holds at most its slots; the rest wait in the pool"
                                                   : fmt::format("target queues: each target also queues up to {} requests of its own", o.target_queue));
    }
    fmt::print("{:>5.2f} {:<22} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.3f} {:>10.3f} {:>8.2f}/{:.2f}/{:.2f} {:>10.1f}\n",
               r.load, r.policy, r.p50_ms, r.p99_ms, r.mean_ms, r.p50_ms / rr.p50_ms, r.p99_ms / rr.p99_ms,
               r.share[0], r.share[1], r.share[2], ns_of(r));
  }
  return 0;
}
