#include "troupe/inference/thread_pool.hpp"

#include <immintrin.h>

namespace troupe::inference {

namespace {
// Spin iterations (with pause) before a worker or the caller sleeps on the atomic: long
// enough to bridge the gap between consecutive kernels of one decode step (tens of
// microseconds), short enough not to burn a shared core when idle.
constexpr int spin_iterations = 1 << 14;
} // namespace

thread_pool::thread_pool(std::size_t n_threads) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n_threads - 1);
  for (std::size_t i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::run_tasks(std::size_t thread) {
  for (;;) {
    const std::size_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) return;
    (*fn_)(task, thread);
  }
}

void thread_pool::worker_loop(std::size_t index) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < spin_iterations; ++i) {
      _mm_pause();
      gen = generation_.load(std::memory_order_acquire);
    }
    while (gen == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    run_tasks(index);
    if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == workers_.size()) finished_.notify_one();
  }
}

void thread_pool::parallel_for(std::size_t n_tasks, const task_fn& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  std::lock_guard lock{call_mutex_};
  fn_ = &fn;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  run_tasks(0);
  const auto n_workers = static_cast<std::uint32_t>(workers_.size());
  std::uint32_t done = finished_.load(std::memory_order_acquire);
  for (int i = 0; done != n_workers && i < spin_iterations; ++i) {
    _mm_pause();
    done = finished_.load(std::memory_order_acquire);
  }
  while (done != n_workers) {
    finished_.wait(done, std::memory_order_acquire);
    done = finished_.load(std::memory_order_acquire);
  }
  fn_ = nullptr;
}

} // namespace troupe::inference
