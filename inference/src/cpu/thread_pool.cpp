#include "troupe/inference/thread_pool.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <limits>

namespace troupe::inference {

namespace {
// Spin iterations (with pause) before a worker or the caller sleeps on the atomic: long
// enough to bridge the gap between consecutive kernels of one decode step (tens of
// microseconds), short enough not to burn a shared core when idle.
constexpr int spin_iterations = 1 << 14;

// Sleeping and waking go through a count of the pool's sleeping threads, so that a call
// makes no system call while every thread spins (the decode case). std::atomic::notify_*
// alone cannot tell: libstdc++ 12 counts waiters per bucket of a small table shared by every
// atomic in the process, so one sleeping thread anywhere (another pool's idle worker, say)
// made each notify here a futex syscall: about 160 per decoded token under bench_engine's
// probe pool (strace), though no faster or slower in a per-token A/B on this machine.
// Sequentially consistent count and value accesses on both sides: a sleeper either is
// counted before the notifier looks, or reads the new value and does not sleep.
template <class T>
void sleep_while(const std::atomic<T>& a, T v, std::atomic<std::uint32_t>& sleepers) {
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  if (a.load(std::memory_order_seq_cst) == v) a.wait(v, std::memory_order_acquire);
  sleepers.fetch_sub(1, std::memory_order_release);
}

template <class T>
void wake(std::atomic<T>& a, const std::atomic<std::uint32_t>& sleepers, bool all) {
  if (sleepers.load(std::memory_order_seq_cst) == 0) return;
  if (all) a.notify_all();
  else a.notify_one();
}

template <class T, class Pred>
void spin_then_wait(const std::atomic<T>& a, Pred done, std::atomic<std::uint32_t>& sleepers) {
  T v = a.load(std::memory_order_acquire);
  for (int i = 0; !done(v) && i < spin_iterations; ++i) {
    _mm_pause();
    v = a.load(std::memory_order_acquire);
  }
  while (!done(v)) {
    sleep_while(a, v, sleepers);
    v = a.load(std::memory_order_acquire);
  }
}
} // namespace

thread_pool::thread_pool(std::size_t n_threads) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n_threads - 1);
  requests_ = std::make_unique<read_request[]>(n_threads - 1);
  for (std::size_t i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void thread_pool::run_tasks(std::uint32_t generation, std::size_t thread) {
  for (;;) {
    std::uint64_t v = work_.load(std::memory_order_acquire);
    std::size_t task = 0;
    for (;;) {
      if (static_cast<std::uint32_t>(v >> 32) != generation) return;  // a later call began
      task = static_cast<std::uint32_t>(v);
      // The task count must be this call's: a count read alone could already be the next
      // call's (stored before its work_), and a larger one would let this stale `v` claim an
      // index past the end of this call, run it and count it off the next call's tasks. So
      // the count carries its generation; another generation means this call is over.
      const std::uint64_t limit = limit_.load(std::memory_order_acquire);
      if (static_cast<std::uint32_t>(limit >> 32) != generation) return;
      if (task >= static_cast<std::uint32_t>(limit)) return;
      if (work_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) break;
    }
    // The claimed task belongs to the running call, which cannot return before it finishes,
    // so fn_ is that call's function.
    (*fn_.load(std::memory_order_relaxed))(task, thread);
    if (remaining_.fetch_sub(1, std::memory_order_seq_cst) == 1) wake(remaining_, sleepers_, false);
  }
}

void thread_pool::read_ahead(std::size_t thread, const void* p, std::size_t bytes, std::uint32_t calls_ahead) {
  if (thread == 0 || thread >= size() || p == nullptr || bytes == 0 || calls_ahead == 0) return;
  std::uint32_t until = 0;
  {
    std::lock_guard lock{call_mutex_};
    until = last_generation_ + calls_ahead;
  }
  read_request& r = requests_[thread - 1];
  const std::uint32_t s = r.seq.load(std::memory_order_relaxed);
  r.seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // the odd seq before the new fields
  r.p.store(static_cast<const std::byte*>(p), std::memory_order_relaxed);
  r.bytes.store(bytes, std::memory_order_relaxed);
  r.until.store(until, std::memory_order_relaxed);
  r.seq.store(s + 2, std::memory_order_release);
}

void thread_pool::take_request(const read_request& req, read_state& st) {
  const std::uint32_t s = req.seq.load(std::memory_order_acquire);
  if (s == st.seq || (s & 1u) != 0) return;
  const std::byte* p = req.p.load(std::memory_order_relaxed);
  const std::size_t bytes = req.bytes.load(std::memory_order_relaxed);
  const std::uint32_t until = req.until.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (req.seq.load(std::memory_order_relaxed) != s) return;  // torn: the next look takes the new one
  st = read_state{s, p, bytes, until, 0};
}

void thread_pool::read_some(std::uint32_t seen, const read_request& req, read_state& st) {
  // Plain loads of one byte per 64-byte line, not prefetch instructions: a CPU may drop
  // prefetches when more misses are outstanding than it tracks (on this project's AMD Zen 4
  // machines a loop of them over 1 MiB left most of it uncached); a load waits for its line.
  while (st.offset < st.bytes) {
    if (generation_.load(std::memory_order_relaxed) != seen || req.seq.load(std::memory_order_relaxed) != st.seq) return;
    const std::size_t end = std::min(st.bytes, st.offset + 1024);
    for (std::size_t b = st.offset; b < end; b += 64) (void)*reinterpret_cast<const volatile std::byte*>(st.p + b);
    st.offset = end;
  }
}

void thread_pool::wait_for_call(std::uint32_t seen, const read_request& req, read_state& st) {
  for (int i = 0; generation_.load(std::memory_order_acquire) == seen;) {
    take_request(req, st);
    // Until the call that reads the bytes starts (generation `until`; wrap-around safe).
    if (st.offset < st.bytes && static_cast<std::int32_t>(seen - st.until) < 0) {
      read_some(seen, req, st);
      i = 0;
    } else if (i < spin_iterations) {
      _mm_pause();
      ++i;
    } else {
      sleep_while(generation_, seen, sleepers_);
    }
  }
}

void thread_pool::worker_loop(std::size_t index) {
  std::uint32_t seen = 0;
  const read_request& req = requests_[index - 1];
  read_state st;
  for (;;) {
    wait_for_call(seen, req, st);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    run_tasks(seen, index);
  }
}

void thread_pool::parallel_for(std::size_t n_tasks, const task_fn& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  assert(n_tasks < std::numeric_limits<std::uint32_t>::max());
  std::lock_guard lock{call_mutex_};
  const std::uint32_t gen = ++last_generation_;
  fn_.store(&fn, std::memory_order_relaxed);
  limit_.store(static_cast<std::uint64_t>(gen) << 32 | n_tasks, std::memory_order_relaxed);
  remaining_.store(static_cast<std::uint32_t>(n_tasks), std::memory_order_relaxed);
  work_.store(static_cast<std::uint64_t>(gen) << 32, std::memory_order_release);
  generation_.store(gen, std::memory_order_seq_cst);
  wake(generation_, sleepers_, true);
  run_tasks(gen, 0);
  spin_then_wait(remaining_, [](std::uint32_t r) { return r == 0; }, sleepers_);
}

} // namespace troupe::inference
