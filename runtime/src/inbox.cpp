#include "inbox.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <caf/detail/tuple_vals.hpp>
#include <caf/mailbox_element.hpp>

#include "type_ids.hpp"

namespace troupe::runtime::detail {

/// A CAF mailbox element holding `wake_atom` that is reused: CAF "deletes" a mailbox element
/// through `request_deletion`, which here only marks it free again. Shared by its inbox and,
/// while queued or being handled, by CAF; whichever lets go last deletes it.
class wake_element final
    : public caf::mailbox_element,
      public caf::detail::tuple_vals_impl<caf::type_erased_tuple, caf::atom_value> {
public:
  using tuple = caf::detail::tuple_vals_impl<caf::type_erased_tuple, caf::atom_value>;

  wake_element() : caf::mailbox_element(nullptr, caf::make_message_id(), {}), tuple(atoms::wake_atom_v) {}

  /// Takes the element for one enqueue (inbox lock held); false while CAF still holds it.
  /// Only this (under the inbox lock) sets `in_flight` and only CAF's release clears it, so a
  /// load and a store do (no read-modify-write): `orphaned` is set only by the inbox's
  /// destructor, which does not run concurrently with a push.
  bool acquire() {
    auto s = state_.load(std::memory_order_acquire);
    if (s & in_flight)
      return false;
    state_.store(s | in_flight, std::memory_order_relaxed);
    return true;
  }

  /// The inbox lets go: deletes now unless CAF holds it (then CAF's release deletes).
  void orphan() {
    if ((state_.fetch_or(orphaned, std::memory_order_acq_rel) & in_flight) == 0)
      delete this;
  }

  // CAF calls this when it is done with the element (handled, or discarded by a dead actor).
  void request_deletion(bool) const noexcept override {
    if (state_.fetch_and(static_cast<std::uint8_t>(~in_flight), std::memory_order_acq_rel) & orphaned)
      delete this;
  }

  caf::type_erased_tuple& content() override { return *this; }
  const caf::type_erased_tuple& content() const override { return *this; }
  caf::message move_content_to_message() override { return caf::make_message(std::get<0>(data())); }
  caf::message copy_content_to_message() const override { return caf::make_message(std::get<0>(data())); }

private:
  static constexpr std::uint8_t in_flight = 1;
  static constexpr std::uint8_t orphaned = 2;
  mutable std::atomic<std::uint8_t> state_{0};
};

bounded_inbox::bounded_inbox(mailbox_options options) : options_(options) {
  if (options_.capacity == 0)
    options_.capacity = 1;
  options_.capacity = std::min<std::size_t>(options_.capacity, UINT32_MAX);
  stats_.capacity = options_.capacity;
}

void small_mutex::lock_slow() noexcept {
  for (int spin = 0; spin < 64; ++spin) {
    std::uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // Taking it as 2 ("maybe sleepers") is conservative: at worst one needless wake.
  while (state_.exchange(2, std::memory_order_acquire) != 0)
    state_.wait(2, std::memory_order_relaxed);
}

bounded_inbox::~bounded_inbox() {
  if (wake_)
    wake_->orphan();
}

void bounded_inbox::wake(caf::execution_unit* unit) {
  // CAF's enqueue only queues (it never calls back into this inbox), so calling it with the
  // lock held cannot deadlock.
  if (!wake_) {
    wake_ = new wake_element; // NOLINT: owned by the inbox and CAF together (see wake_element)
    wake_id_.store(wake_, std::memory_order_relaxed);
  }
  if (wake_->acquire()) {
    wake_->mid = caf::make_message_id();
    target_->enqueue(caf::mailbox_element_ptr{wake_}, unit);
    return;
  }
  target_->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, atoms::wake_atom_v), unit);
}

void bounded_inbox::grow() {
  auto cap = static_cast<std::uint32_t>(std::min<std::size_t>(options_.capacity, ring_size() * 2));
  auto next = std::make_unique<std::shared_ptr<const envelope>[]>(cap);
  for (std::uint32_t i = 0; i < size_; ++i)
    next[i] = std::move(slot(wrap(head_ + i)));
  ring_ = std::move(next);
  ring_cap_ = cap;
  head_ = 0;
}

bounded_inbox::push_result bounded_inbox::push(std::shared_ptr<const envelope>&& message,
                                               caf::execution_unit* unit) {
  push_result r;
  std::lock_guard<small_mutex> guard{mutex_};
  if (closed_) {
    r.what = outcome::closed;
    return r;
  }
  if (size_ == options_.capacity) {
    switch (options_.policy) {
      case overflow_policy::drop_newest:
        ++stats_.dropped;
        r.what = outcome::dropped_newest;
        r.evicted = std::move(message);
        return r;
      case overflow_policy::reject:
        ++stats_.rejected;
        r.what = outcome::rejected;
        return r;
      case overflow_policy::drop_oldest:
        ++stats_.dropped;
        r.what = outcome::dropped_oldest;
        r.evicted = std::move(slot(head_));
        head_ = wrap(head_ + 1);
        --size_;
        break;
    }
  }
  if (size_ == ring_size())
    grow();
  slot(wrap(head_ + size_)) = std::move(message);
  ++size_;
  ++accepted_;
  high_water_ = std::max(high_water_, size_);
  if (!scheduled_ && target_) {
    scheduled_ = true;
    wake(unit);
  }
  return r;
}

bool bounded_inbox::pop(std::shared_ptr<const envelope>& out, bool& last) {
  std::lock_guard<small_mutex> guard{mutex_};
  last = size_ <= 1;
  if (size_ == 0) {
    scheduled_ = false;
    return false;
  }
  out = std::move(slot(head_));
  head_ = wrap(head_ + 1);
  --size_;
  ++processed_;
  if (size_ == 0) {
    scheduled_ = false;
    head_ = 0;
    if (ring_cap_ != 0) { // an idle agent keeps only the inline slot
      ring_.reset();
      ring_cap_ = 0;
    }
  } else {
    // The consumer delivers in a loop, so the next envelope is read soon; it was written on
    // the sender's core: ask for its lines now, so they arrive while this one is handled.
    auto at = reinterpret_cast<std::uintptr_t>(slot(head_).get()) & ~std::uintptr_t{63};
    auto end = reinterpret_cast<std::uintptr_t>(slot(head_).get()) + sizeof(envelope);
    for (; at < end; at += 64)
      __builtin_prefetch(reinterpret_cast<const void*>(at));
  }
  return true;
}

caf::actor bounded_inbox::attach(caf::actor target) {
  std::lock_guard<small_mutex> guard{mutex_};
  target_ = std::move(target);
  scheduled_ = size_ > 0 && target_;
  return scheduled_ ? target_ : caf::actor{};
}

void bounded_inbox::detach() {
  std::lock_guard<small_mutex> guard{mutex_};
  target_ = caf::actor{};
  scheduled_ = false;
}

void bounded_inbox::close() {
  std::unique_ptr<std::shared_ptr<const envelope>[]> discard; // destroyed after the lock is released
  std::shared_ptr<const envelope> discard_one;
  std::lock_guard<small_mutex> guard{mutex_};
  closed_ = true;
  target_ = caf::actor{};
  discard = std::move(ring_);
  ring_cap_ = 0;
  discard_one = std::move(one_);
  size_ = 0;
  head_ = 0;
}

mailbox_stats bounded_inbox::stats() const {
  std::lock_guard<small_mutex> guard{mutex_};
  mailbox_stats s = stats_;
  s.accepted = accepted_;
  s.processed = processed_;
  s.high_water = high_water_;
  s.depth = size_;
  return s;
}

caf::actor bounded_inbox::target() const {
  std::lock_guard<small_mutex> guard{mutex_};
  return target_;
}

} // namespace troupe::runtime::detail
