#include "inference/request_queue.hpp"

#include <algorithm>

namespace troupe::runtime::detail {

request_queue::request_queue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

request_queue::push_status request_queue::push(queued_request& r) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return push_status::closed;
    const auto& id = r.request.request_id;
    if (running_.count(id) != 0 ||
        std::any_of(waiting_.begin(), waiting_.end(),
                    [&id](const queued_request& w) { return w.request.request_id == id; }))
      return push_status::duplicate_id;
    if (waiting_.size() >= capacity_) return push_status::full;
    waiting_.push_back(std::move(r));
  }
  wake_.notify_one();
  return push_status::queued;
}

std::optional<queued_request> request_queue::cancel(std::string_view id) {
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(waiting_.begin(), waiting_.end(),
                           [id](const queued_request& w) { return w.request.request_id == id; });
    if (it != waiting_.end()) {
      queued_request out = std::move(*it);
      waiting_.erase(it);
      return out;
    }
    auto run = running_.find(id);
    if (run == running_.end()) return std::nullopt;
    cancelled_.insert(*run);
  }
  wake_.notify_one();
  return std::nullopt;
}

bool request_queue::wait(bool busy) {
  std::unique_lock lock(mutex_);
  if (!busy) wake_.wait(lock, [this] { return closed_ || !waiting_.empty() || !cancelled_.empty(); });
  return !closed_;
}

std::vector<queued_request> request_queue::pop(std::size_t n) {
  std::lock_guard lock(mutex_);
  std::vector<queued_request> out;
  while (n-- > 0 && !waiting_.empty()) {
    running_.insert(waiting_.front().request.request_id);
    out.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return out;
}

std::vector<queued_request> request_queue::take_expired(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  std::vector<queued_request> out;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const auto deadline = it->request.deadline_ms;
    if (deadline > 0 && deadline <= now_ms) {
      out.push_back(std::move(*it));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<std::string> request_queue::take_cancelled() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out(cancelled_.begin(), cancelled_.end());
  cancelled_.clear();
  return out;
}

void request_queue::finished(const std::string& id) {
  std::lock_guard lock(mutex_);
  running_.erase(id);
  cancelled_.erase(id);
}

std::vector<queued_request> request_queue::close() {
  std::vector<queued_request> out;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    out.assign(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end()));
    waiting_.clear();
  }
  wake_.notify_all();
  return out;
}

std::size_t request_queue::size() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

} // namespace troupe::runtime::detail
