#include "inbox.hpp"

#include <algorithm>
#include <utility>

#include "type_ids.hpp"

namespace troupe::runtime::detail {

bounded_inbox::bounded_inbox(mailbox_options options) : options_(options) {
  if (options_.capacity == 0)
    options_.capacity = 1;
  stats_.capacity = options_.capacity;
}

void bounded_inbox::grow() {
  std::size_t cap = std::min(options_.capacity, std::max<std::size_t>(1, ring_.size() * 2));
  std::vector<std::shared_ptr<const envelope>> next;
  next.reserve(cap);
  for (std::size_t i = 0; i < size_; ++i)
    next.push_back(std::move(ring_[(head_ + i) % ring_.size()]));
  next.resize(cap);
  ring_ = std::move(next);
  head_ = 0;
}

bounded_inbox::push_result bounded_inbox::push(std::shared_ptr<const envelope>&& message,
                                               caf::execution_unit* unit) {
  push_result r;
  std::lock_guard<std::mutex> guard{mutex_};
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
        r.evicted = std::move(ring_[head_]);
        head_ = (head_ + 1) % ring_.size();
        --size_;
        break;
    }
  }
  if (size_ == ring_.size())
    grow();
  ring_[(head_ + size_) % ring_.size()] = std::move(message);
  ++size_;
  ++stats_.accepted;
  stats_.high_water = std::max(stats_.high_water, size_);
  if (!scheduled_ && target_) {
    scheduled_ = true;
    // CAF's enqueue only queues (it never calls back into this inbox), so holding the lock
    // here cannot deadlock.
    target_->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, atoms::wake_atom_v), unit);
  }
  return r;
}

bool bounded_inbox::pop(std::shared_ptr<const envelope>& out, bool& last) {
  std::lock_guard<std::mutex> guard{mutex_};
  last = size_ <= 1;
  if (size_ == 0) {
    scheduled_ = false;
    return false;
  }
  out = std::move(ring_[head_]);
  head_ = (head_ + 1) % ring_.size();
  --size_;
  ++stats_.processed;
  if (size_ == 0) {
    scheduled_ = false;
    head_ = 0;
    if (ring_.size() > 1) // an idle agent keeps at most one slot
      std::vector<std::shared_ptr<const envelope>>{}.swap(ring_);
  }
  return true;
}

caf::actor bounded_inbox::attach(caf::actor target) {
  std::lock_guard<std::mutex> guard{mutex_};
  target_ = std::move(target);
  scheduled_ = size_ > 0 && target_;
  return scheduled_ ? target_ : caf::actor{};
}

void bounded_inbox::detach() {
  std::lock_guard<std::mutex> guard{mutex_};
  target_ = caf::actor{};
  scheduled_ = false;
}

void bounded_inbox::close() {
  std::vector<std::shared_ptr<const envelope>> discard;
  std::lock_guard<std::mutex> guard{mutex_};
  closed_ = true;
  target_ = caf::actor{};
  discard.swap(ring_);
  size_ = 0;
  head_ = 0;
}

mailbox_stats bounded_inbox::stats() const {
  std::lock_guard<std::mutex> guard{mutex_};
  mailbox_stats s = stats_;
  s.depth = size_;
  return s;
}

caf::actor bounded_inbox::target() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return target_;
}

} // namespace troupe::runtime::detail
