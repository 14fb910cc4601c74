// pool_core: instances, the periodic tick (deadlines, stalls), elastic growth and draining.
#include <algorithm>

#include <fmt/format.h>

#include "pool_core.hpp"

namespace troupe::runtime::detail {

std::optional<std::uint64_t> pool_core::add_instance(std::size_t group, bool ok, const std::string& why) {
  auto& g = groups_.at(group);
  if (g.starting > 0) --g.starting;
  if (!ok) {
    last_start_error_ = why;
    dispatch(now_());  // may fail the queue when nothing is left to serve it
    return std::nullopt;
  }
  const auto& t = options_.targets[group];
  instance in;
  in.id = next_instance_++;
  in.group = group;
  const auto number = g.next_number++;
  in.name = number == 1 ? t.name : fmt::format("{}.{}", t.name, number);
  instances_.push_back(std::move(in));
  return instances_.back().id;  // the owner registers it, then calls kick()
}

std::size_t pool_core::live_count(std::size_t group) const {
  std::size_t n = 0;
  for (const auto& in : instances_)
    if (in.group == group && in.health == target_health::up) ++n;
  return n;
}

void pool_core::maybe_stop_drained(instance& in) {
  if (in.health != target_health::draining || !in.attempts.empty()) return;
  const auto id = in.id;
  host_.stop_instance(id, false);
  instances_.erase(std::find_if(instances_.begin(), instances_.end(),
                                [id](const instance& x) { return x.id == id; }));
}

bool pool_core::drain(const std::string& name) {
  for (auto& in : instances_) {
    if (in.name != name) continue;
    if (in.health == target_health::up) {
      in.health = target_health::draining;
      maybe_stop_drained(in);
    }
    return true;
  }
  return false;
}

void pool_core::tick(pool_time now) {
  // Deadlines (wall clock, as the request states them).
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<std::string> expired;
  for (const auto& [id, r] : requests_)
    if (r.request.deadline_ms > 0 && wall_ms > r.request.deadline_ms) expired.push_back(id);
  for (const auto& id : expired) {
    auto& r = requests_.at(id);
    if (r.attempt != 0) host_.cancel_on(r.target, id);
    finish(id, fail(errc::timeout, fmt::format("request '{}' passed its deadline", id)));
  }
  // Stalls: a running attempt without a piece for stall_timeout_ms takes its target down.
  if (options_.stall_timeout_ms > 0) {
    const auto limit = std::chrono::milliseconds(options_.stall_timeout_ms);
    std::set<std::uint64_t> stalled;
    for (const auto& [id, r] : requests_)
      if (r.attempt != 0 && now - r.last_progress > limit) stalled.insert(r.target);
    for (auto t : stalled)
      on_instance_down(t, fmt::format("no progress for {} ms", options_.stall_timeout_ms));
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) elastic(g);
  dispatch(now);
}

void pool_core::elastic(std::size_t group) {
  const auto& t = options_.targets[group];
  auto& g = groups_[group];
  const auto live = live_count(group);
  if (live + g.starting < t.min_count) {  // replace what died
    ++g.starting;
    host_.start_instance(group);
    return;
  }
  if (t.min_count >= t.max_count) return;
  std::size_t running = 0;
  for (const auto& in : instances_)
    if (in.group == group && in.health == target_health::up) running += in.attempts.size();
  const double capacity = static_cast<double>(live * t.capacity);
  const double util = capacity > 0 ? static_cast<double>(running) / capacity : 1.0;
  const bool high = !queue_.empty() || util >= options_.elastic.high_utilisation;
  const bool low = queue_.empty() && util <= options_.elastic.low_utilisation;
  g.high_ticks = high ? g.high_ticks + 1 : 0;
  g.low_ticks = low ? g.low_ticks + 1 : 0;
  if (g.high_ticks >= options_.elastic.grow_after_ticks && live + g.starting < t.max_count) {
    g.high_ticks = 0;
    ++g.starting;
    ++counters_.grown;
    host_.start_instance(group);
  } else if (g.low_ticks >= options_.elastic.shrink_after_ticks && live > t.min_count) {
    g.low_ticks = 0;
    instance* pick = nullptr;  // the least busy; the newest on ties
    for (auto& in : instances_)
      if (in.group == group && in.health == target_health::up &&
          (pick == nullptr || in.attempts.size() <= pick->attempts.size()))
        pick = &in;
    if (pick == nullptr) return;
    ++counters_.shrunk;
    pick->health = target_health::draining;
    maybe_stop_drained(*pick);
  }
}

void pool_core::stop_all() {
  std::vector<std::string> ids;
  for (const auto& [id, r] : requests_) ids.push_back(id);
  queue_.clear();
  for (const auto& id : ids) {
    auto& r = requests_.at(id);
    if (r.attempt != 0) host_.cancel_on(r.target, id);
    finish(id, fail(errc::stopped, fmt::format("inference pool stopped before request '{}' ended", id)));
  }
  for (const auto& in : instances_) host_.stop_instance(in.id, false);
  instances_.clear();
}

} // namespace troupe::runtime::detail
