// The bounded mailbox of one agent (private).
//
// CAF 0.17 mailboxes are unbounded, so the bound lives here: every envelope for an agent goes
// into this agent-owned ring buffer (pushed by any sender thread: host calls, other agents'
// handlers, topic fan-out), and the agent's actor pops it. Only the transition from "idle" to
// "has mail" sends a CAF `wake` message, so CAF's own mailbox holds at most one wake per agent;
// memory is bounded by `capacity` envelopes. When full, the policy decides (drop_newest,
// drop_oldest, reject). FIFO order makes the per sender->receiver order the send order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/mailbox.hpp"

namespace troupe::runtime::detail {

class wake_element;

/// A mutex in one 32-bit word (std::mutex takes 40 bytes), so that the inbox's hot fields fit
/// in one cache line. Uncontended: one compare-exchange to lock, one exchange to unlock (as a
/// pthread mutex). Contended: a short spin, then the waiter sleeps in the kernel (futex, via
/// C++20 atomic wait) until the holder's unlock wakes one waiter.
class small_mutex {
public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    lock_slow();
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2)
      state_.notify_one();
  }

private:
  void lock_slow() noexcept;
  /// 0: free; 1: locked, nobody sleeping; 2: locked, maybe sleepers (unlock must wake one).
  std::atomic<std::uint32_t> state_{0};
};

class alignas(64) bounded_inbox {
public:
  /// What `push` did.
  enum class outcome : std::uint8_t { queued, dropped_newest, dropped_oldest, rejected, closed };

  /// The result of `push`: `evicted` is the envelope discarded by drop_newest/drop_oldest.
  struct push_result {
    outcome what = outcome::queued;
    std::shared_ptr<const envelope> evicted;
  };

  explicit bounded_inbox(mailbox_options options);
  ~bounded_inbox();
  bounded_inbox(const bounded_inbox&) = delete;
  bounded_inbox& operator=(const bounded_inbox&) = delete;

  /// Enqueues (any thread). When the inbox goes from idle to "has mail" it sends the consumer
  /// a wake (from inside the lock, so no actor handle is copied out); `unit` is the sending
  /// actor's execution unit, or null outside actors.
  /// `message` is moved from only when it was taken (queued, or evicted by drop_newest); after
  /// `rejected` or `closed` the caller still holds it (to retry elsewhere).
  push_result push(std::shared_ptr<const envelope>&& message, caf::execution_unit* unit);
  /// Dequeues (the owning actor only). False when empty. When it takes the last envelope,
  /// `last` is set and the inbox is idle again (the next push sends a new wake).
  bool pop(std::shared_ptr<const envelope>& out, bool& last);
  /// Makes `target` the consumer; returns it when mail is waiting (send it a wake).
  caf::actor attach(caf::actor target);
  /// Forgets the consumer (it died); mail stays queued for the next incarnation.
  void detach();
  /// Closes the inbox: queued mail is discarded, later pushes fail with `closed`.
  void close();
  /// A snapshot of the counters.
  mailbox_stats stats() const;
  /// The current consumer (may be null).
  caf::actor target() const;
  /// True when `x` is this inbox's reusable wake element (the consumer's quick check).
  bool is_wake(const caf::mailbox_element* x) const { return x == wake_id_.load(std::memory_order_relaxed); }

private:
  void grow();
  /// Slots in use as the ring: the inline one, or the array once it grew.
  std::size_t ring_size() const { return ring_cap_ == 0 ? 1 : ring_cap_; }
  std::shared_ptr<const envelope>& slot(std::size_t i) { return ring_cap_ == 0 ? one_ : ring_[i]; }
  /// `i % ring_size()` for i < 2 * ring_size(), without a division.
  std::uint32_t wrap(std::size_t i) const {
    return static_cast<std::uint32_t>(i >= ring_size() ? i - ring_size() : i);
  }
  void wake(caf::execution_unit* unit);
  // Laid out by use (the inbox is cache-line aligned): the first line holds everything a pop
  // touches, the second what only a push adds, the third the rest; a message handed from one
  // core to another thus moves as few lines as it can. Counts are 32-bit (capacity is clamped
  // to 2^32 - 1).
  alignas(64) mutable small_mutex mutex_;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t ring_cap_ = 0; ///< slots in `ring_`; 0 while the inline slot `one_` is the ring
  bool scheduled_ = false; ///< a wake is in flight or the consumer is draining
  bool closed_ = false;
  /// The ring while it has one slot.
  std::shared_ptr<const envelope> one_;
  /// The ring once more than one envelope waits: grows lazily (2, 4, ...) up to capacity and
  /// is given back when drained. Envelopes are shared and immutable, so a topic fan-out
  /// queues one pointer per subscriber, not a copy.
  std::unique_ptr<std::shared_ptr<const envelope>[]> ring_;
  std::uint64_t processed_ = 0;
  /// `wake_` as the consumer compares it (set once, with `wake_`; read without the lock).
  std::atomic<const caf::mailbox_element*> wake_id_{nullptr};
  alignas(64) caf::actor target_;
  /// This inbox's reusable wake (made by the first wake): sending it allocates nothing. While
  /// CAF still holds it (the consumer is running the handler it woke), a wake is allocated.
  wake_element* wake_ = nullptr;
  std::uint64_t accepted_ = 0;
  std::uint32_t high_water_ = 0;
  alignas(64) mailbox_options options_;
  mailbox_stats stats_; ///< the other counters
};

} // namespace troupe::runtime::detail
