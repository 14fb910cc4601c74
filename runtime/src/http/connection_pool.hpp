// The server's connection threads: a fixed number of workers and a bounded queue of accepted
// connections, in place of cpp-httplib's default pool (whose queue is unbounded).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace troupe::runtime::detail {

/// cpp-httplib's accept thread pushes each accepted connection; `threads` workers pop and
/// serve them. When `capacity` connections already wait, enqueue() blocks the accept thread
/// until a worker takes one, so further clients wait in the kernel's listen backlog.
class connection_pool final : public httplib::TaskQueue {
public:
  connection_pool(std::size_t threads, std::size_t capacity) : capacity_(capacity) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ~connection_pool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [this] { return jobs_.size() < capacity_ || closed_; });
    if (closed_) {
      lock.unlock();
      fn();  // shutting down: serve it here (the server answers and closes it)
      return;
    }
    jobs_.push_back(std::move(fn));
    not_empty_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (auto& w : workers_)
      if (w.joinable()) w.join();
  }

private:
  void run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [this] { return !jobs_.empty() || closed_; });
        if (jobs_.empty()) return;
        fn = std::move(jobs_.front());
        jobs_.pop_front();
        not_full_.notify_one();
      }
      fn();
    }
  }

  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::function<void()>> jobs_;  ///< guarded by mutex_
  bool closed_ = false;                     ///< guarded by mutex_
  std::vector<std::thread> workers_;
};

} // namespace troupe::runtime::detail
