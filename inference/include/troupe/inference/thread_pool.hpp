// A fixed set of worker threads for data-parallel kernels: parallel_for hands out task
// indices to the workers and to the calling thread, and returns when all are done.
// Built for many small calls (a decode step makes hundreds): workers spin briefly on a
// generation counter before sleeping on it, so a call costs about a microsecond, not a
// thread wake-up per task.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe::inference {

/// Fork-join worker pool. Threads are created once in the constructor and joined in the
/// destructor. Calls to parallel_for from different threads are serialised; calling it from
/// inside a task is a bug (it would deadlock).
class thread_pool {
 public:
  /// The body of a parallel loop: `task` in [0, n_tasks), `thread` in [0, size()).
  using task_fn = std::function<void(std::size_t task, std::size_t thread)>;

  /// A pool of `n_threads` threads including the caller (so n_threads - 1 workers are
  /// started); 0 means std::thread::hardware_concurrency().
  explicit thread_pool(std::size_t n_threads = 0);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Threads that run tasks, the caller included.
  [[nodiscard]] std::size_t size() const { return workers_.size() + 1; }

  /// Runs fn(task, thread) for every task in [0, n_tasks) on the pool and the calling
  /// thread (thread index 0), returning once every task has finished. Tasks are handed out
  /// dynamically, one at a time.
  void parallel_for(std::size_t n_tasks, const task_fn& fn);

  /// Asks worker `thread` (in [1, size())) to read [p, p + bytes) whenever it waits for a call
  /// before the one that needs those bytes, the `calls_ahead`-th call from now (1: the next),
  /// so that they are in its caches by then: a decode step's workers would otherwise sit idle
  /// while the caller runs the single-threaded steps between two weight products, or finishes
  /// the last piece of one, with the memory bus unused. A call in between interrupts the
  /// reading, which goes on where it stopped once the worker waits again; the call that needs
  /// the bytes, or a newer request, ends it (at most 1 KiB is read after the worker sees
  /// either). The worker may still be reading after this returns, so the memory must stay
  /// readable until the pool is destroyed. Ignored for thread 0, a sleeping worker, bytes = 0
  /// or calls_ahead = 0.
  void read_ahead(std::size_t thread, const void* p, std::size_t bytes, std::uint32_t calls_ahead = 1);

 private:
  void worker_loop(std::size_t index);
  void run_tasks(std::uint32_t generation, std::size_t thread);

  // A worker's read_ahead request, written by the caller and read by that worker alone:
  // seq is odd while the fields change (a sequence lock: the worker takes them only from an
  // even seq that did not change while it read them).
  struct alignas(64) read_request {
    std::atomic<std::uint32_t> seq{0};
    std::atomic<const std::byte*> p{nullptr};
    std::atomic<std::size_t> bytes{0};
    std::atomic<std::uint32_t> until{0};  // generation of the call that needs the bytes
  };
  // The worker's copy of its current request and how far it has read.
  struct read_state {
    std::uint32_t seq = 0;
    const std::byte* p = nullptr;
    std::size_t bytes = 0;
    std::uint32_t until = 0;
    std::size_t offset = 0;
  };
  void wait_for_call(std::uint32_t seen, const read_request& req, read_state& st);
  void take_request(const read_request& req, read_state& st);
  void read_some(std::uint32_t seen, const read_request& req, read_state& st);

  std::vector<std::thread> workers_;
  std::unique_ptr<read_request[]> requests_;  // [thread - 1]
  std::mutex call_mutex_;                      // serialises parallel_for callers
  std::uint32_t last_generation_ = 0;          // guarded by call_mutex_
  std::atomic<std::uint32_t> generation_{0};   // bumped once per parallel_for; workers wait on it
  // (generation << 32) | next task index. Claiming a task is a CAS on this word, so a worker
  // that wakes late can never take a task of a later call; the caller only waits for the
  // tasks, not for every worker to check in.
  std::atomic<std::uint64_t> work_{0};
  std::atomic<std::uint32_t> remaining_{0};    // tasks of the current call not yet finished
  std::atomic<std::uint64_t> limit_{0};        // (generation << 32) | task count of that call
  std::atomic<const task_fn*> fn_{nullptr};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> sleepers_{0};     // threads blocked in a wait on generation_ or remaining_
};

} // namespace troupe::inference
