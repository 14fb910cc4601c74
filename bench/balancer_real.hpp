// bench_balancer --real: the same experiment through the real inference_pool (its actors,
// messages and admission) on simulated targets that serve in real time: each target runs up
// to `slots` requests at once, each taking cost / (speed * rate) seconds, and queues up to
// `target_queue` more in its own FIFO. Wall-clock timers, so machine load adds noise.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <troupe/runtime/pool.hpp>

namespace bench {

using steady = std::chrono::steady_clock;

/// A SIMULATED inference target (not an engine): answers after a computed delay.
class timed_target final : public troupe::runtime::inference_client {
public:
  timed_target(double speed, double tokens_per_s, std::size_t slots)
      : speed_(speed), tokens_per_s_(tokens_per_s), slots_(slots), worker_([this] { loop(); }) {}
  ~timed_target() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  void generate(troupe::runtime::generation_request request, troupe::runtime::piece_callback,
                troupe::runtime::done_callback on_done) override {
    const double s = static_cast<double>(request.sampling.max_tokens) / (speed_ * tokens_per_s_);
    job j{std::move(request.request_id), std::move(on_done),
          std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s)), {}};
    {
      std::lock_guard lock(mutex_);
      if (running_.size() < slots_) {
        j.end = steady::now() + j.service;
        running_.push_back(std::move(j));
      } else {
        waiting_.push_back(std::move(j));
      }
    }
    cv_.notify_all();
  }
  void cancel(std::string_view) override {}

private:
  struct job {
    std::string id;
    troupe::runtime::done_callback on_done;
    steady::duration service;
    steady::time_point end;
  };

  void loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (running_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = std::min_element(running_.begin(), running_.end(),
                                    [](const job& a, const job& b) { return a.end < b.end; });
      if (cv_.wait_until(lock, first->end) != std::cv_status::timeout) continue;
      first = std::min_element(running_.begin(), running_.end(),
                               [](const job& a, const job& b) { return a.end < b.end; });
      if (first->end > steady::now()) continue;
      job done = std::move(*first);
      running_.erase(first);
      if (!waiting_.empty()) {
        waiting_.front().end = steady::now() + waiting_.front().service;
        running_.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      lock.unlock();
      done.on_done(troupe::runtime::generation_result{done.id, "", 0, 0, "length"});
      lock.lock();
    }
  }

  double speed_, tokens_per_s_;
  std::size_t slots_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<job> running_;
  std::deque<job> waiting_;
  bool stop_ = false;
  std::thread worker_;
};

/// Latencies (s) of `n` requests with Poisson arrivals at `rate_per_s` through a real pool.
inline std::vector<double> run_real_pool(troupe::runtime::balance_policy policy, const std::vector<double>& speeds,
                                         std::size_t slots, std::size_t target_queue, double tokens_per_s,
                                         double rate_per_s, std::size_t n, std::size_t min_cost,
                                         std::size_t max_cost, std::uint64_t seed, std::vector<double>& share) {
  using namespace troupe::runtime;
  pool_options o;
  o.policy = policy;
  o.affinity = false;
  o.queue_capacity = n;
  o.stall_timeout_ms = 0;
  o.elastic.tick_ms = 0;
  o.seed = seed;
  std::vector<std::shared_ptr<timed_target>> made;
  for (std::size_t i = 0; i < speeds.size(); ++i) {
    target_options t;
    t.kind = "timed";
    t.name = "t" + std::to_string(i);
    t.weight = speeds[i];
    t.capacity = slots + target_queue;
    t.slots = slots;
    o.targets.push_back(t);
  }
  std::mutex made_mutex;
  std::size_t next = 0;
  o.factories["timed"] = [&](const target_options&) -> result<std::shared_ptr<inference_client>> {
    std::lock_guard lock(made_mutex);
    auto t = std::make_shared<timed_target>(speeds[next++], tokens_per_s, slots);
    made.push_back(t);
    return std::shared_ptr<inference_client>(t);
  };
  auto pool = make_inference_pool(o);
  if (!pool) return {};
  std::vector<double> latency(n, 0.0);
  std::atomic<std::size_t> done{0};
  std::mt19937_64 arrivals(seed), sizes(seed + 1);
  std::exponential_distribution<double> gap(rate_per_s);
  std::uniform_int_distribution<std::size_t> size(min_cost, max_cost);
  auto next_at = steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    next_at += std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(gap(arrivals)));
    std::this_thread::sleep_until(next_at);
    generation_request r;
    r.request_id = std::to_string(i);
    r.sampling.max_tokens = static_cast<int>(size(sizes));
    const auto sent = steady::now();
    (*pool)->generate(std::move(r), {}, [&latency, &done, i, sent](result<generation_result>) {
      latency[i] = std::chrono::duration<double>(steady::now() - sent).count();
      done.fetch_add(1);
    });
  }
  while (done.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto st = (*pool)->stats();
  share.assign(speeds.size(), 0.0);
  for (std::size_t i = 0; i < st.targets.size() && i < share.size(); ++i)
    share[i] = static_cast<double>(st.targets[i].assigned) / static_cast<double>(n);
  (*pool)->shutdown();
  return latency;
}

} // namespace bench
