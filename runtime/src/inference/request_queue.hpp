// The hand-over between callers of engine_client::generate and one model's worker thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime::detail {

/// A request with its callbacks, as queued and as run.
struct queued_request {
  generation_request request;
  piece_callback on_piece;
  done_callback on_done;
};

/// Requests waiting for a sequence slot of one model, plus the ids of the requests its worker
/// is running (so that cancel() can reach them). Thread-safe.
///
/// Bounded: any thread pushes (push()), only the worker pops (pop()). When `capacity`
/// requests are waiting, push() refuses the request (push_status::full) and the caller fails
/// it with errc::overloaded: the queue never grows past its capacity. The set of running ids
/// is bounded by the worker's sequence slots, and the set of cancelled running ids by that.
class request_queue {
public:
  /// A queue holding at most `capacity` waiting requests (at least 1).
  explicit request_queue(std::size_t capacity);

  enum class push_status { queued, full, closed, duplicate_id };
  /// Called by any thread. Queues `r` unless the queue is full, closed, or already has a
  /// request (waiting or running) with the same id; on refusal `r` is left untouched.
  push_status push(queued_request& r);

  /// Called by any thread. A waiting request with this id is removed and returned (the
  /// caller fails it); a running one is marked for the worker (see take_cancelled()).
  std::optional<queued_request> cancel(std::string_view id);

  /// Called by the worker. Waits until there is something to do: a waiting request, a
  /// cancellation, or close(). Returns at once when `busy` (the worker has running
  /// requests). Returns false once the queue is closed.
  bool wait(bool busy);
  /// Called by the worker: removes up to `n` waiting requests, oldest first, and records
  /// their ids as running.
  std::vector<queued_request> pop(std::size_t n);
  /// Called by the worker: removes and returns the waiting requests whose deadline is at or
  /// before `now_ms`.
  std::vector<queued_request> take_expired(std::int64_t now_ms);
  /// Called by the worker: the running ids cancelled since the last call.
  std::vector<std::string> take_cancelled();
  /// Called by the worker when a running request ends (later cancels of it are ignored).
  void finished(const std::string& id);

  /// Refuses further pushes and wakes the worker; returns the waiting requests.
  std::vector<queued_request> close();
  /// Requests now waiting.
  [[nodiscard]] std::size_t size() const;

private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<queued_request> waiting_;   ///< guarded by mutex_; at most capacity_
  std::set<std::string, std::less<>> running_;    ///< guarded by mutex_
  std::set<std::string, std::less<>> cancelled_;  ///< guarded by mutex_; subset of running_
  bool closed_ = false;                  ///< guarded by mutex_
};

} // namespace troupe::runtime::detail
