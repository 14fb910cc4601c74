// pool_core: admission, dispatch, streaming across attempts, failover, cancellation.
#include "pool_core.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace troupe::runtime::detail {

namespace {

/// Estimated tokens of a request: prompt bytes / 4 plus the most it may generate.
std::size_t estimate_cost(const generation_request& r) {
  std::size_t bytes = 0;
  for (const auto& m : r.messages) bytes += m.content.size();
  return bytes / 4 + static_cast<std::size_t>(std::max(r.sampling.max_tokens, 1));
}

/// Errors after which another target may well succeed.
bool retryable(errc code) {
  return code == errc::stopped || code == errc::io || code == errc::overloaded ||
         code == errc::agent_failed || code == errc::no_engine || code == errc::unavailable ||
         code == errc::protocol;
}

} // namespace

pool_core::pool_core(pool_options options, pool_host& host, std::function<pool_time()> now)
    : options_(std::move(options)), host_(host), now_(std::move(now)), balancer_(options_.policy),
      rng_(options_.seed) {
  groups_.resize(options_.targets.size());
}

void pool_core::submit(generation_request request, piece_callback on_piece, done_callback on_done,
                       pool_time now) {
  const auto id = request.request_id;
  if (id.empty() || requests_.count(id) != 0) {
    ++counters_.failed;
    on_done(fail(errc::invalid_argument,
                 id.empty() ? std::string("generation request without a request_id")
                            : fmt::format("request '{}' is already running", id)));
    return;
  }
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  if (request.deadline_ms > 0 && wall_ms > request.deadline_ms) {
    ++counters_.failed;
    on_done(fail(errc::timeout, fmt::format("request '{}' arrived after its deadline", id)));
    return;
  }
  if (queue_.size() >= options_.queue_capacity) {
    // Full only when no target has a free slot either (the queue drains into free slots).
    ++counters_.overloaded;
    ++counters_.failed;
    on_done(fail(errc::overloaded,
                 fmt::format("inference pool overloaded: {} requests queued, all targets busy; "
                             "retry after {} ms",
                             queue_.size(), options_.retry_after_ms)));
    return;
  }
  request_state r;
  r.cost = estimate_cost(request);
  r.request = std::move(request);
  r.on_piece = std::move(on_piece);
  r.on_done = std::move(on_done);
  r.last_progress = now;
  requests_.emplace(id, std::move(r));
  queue_.push_back(id);
  dispatch(now);
}

void pool_core::dispatch(pool_time now) {
  while (!queue_.empty()) {
    auto it = requests_.find(queue_.front());
    if (it == requests_.end()) {  // cancelled while queued
      queue_.pop_front();
      continue;
    }
    if (!try_start(it->second, now)) break;
    queue_.pop_front();
  }
  // Nothing can ever serve the queue: fail it rather than let it wait forever.
  bool any_alive = false;
  for (const auto& in : instances_) any_alive = any_alive || in.health == target_health::up;
  for (const auto& g : groups_) any_alive = any_alive || g.starting > 0;
  if (!any_alive) {
    while (!queue_.empty()) {
      const auto id = queue_.front();
      queue_.pop_front();
      if (requests_.count(id))
        finish(id, fail(errc::stopped, fmt::format("no inference target is up for request '{}'", id)));
    }
  }
}

bool pool_core::try_start(request_state& r, pool_time now) {
  std::vector<target_snapshot> snaps;
  snaps.reserve(instances_.size());
  bool other_up = false;
  for (const auto& in : instances_) {
    const auto& t = options_.targets[in.group];
    target_snapshot s{t.weight, in.health, in.attempts.size(), in.tokens, t.capacity,
                      t.slots > 0 ? t.slots : t.capacity};
    if (s.health == target_health::up && !r.tried.count(in.id)) other_up = true;
    snaps.push_back(s);
  }
  // A retry avoids the instances that failed it while any other is up.
  if (other_up)
    for (std::size_t i = 0; i < instances_.size(); ++i)
      if (r.tried.count(instances_[i].id)) snaps[i].capacity = 0;
  std::optional<std::size_t> preferred;
  if (options_.affinity && !r.request.agent.empty()) {
    if (auto s = session_.find(r.request.agent); s != session_.end())
      for (std::size_t i = 0; i < instances_.size(); ++i)
        if (instances_[i].id == s->second) preferred = i;
  }
  const auto pick = balancer_.choose_with_affinity(snaps, preferred, r.cost, rng_);
  if (!pick) return false;
  auto& in = instances_[*pick];
  r.attempt = next_attempt_++;
  r.target = in.id;
  r.generated = 0;
  r.attempt_text.clear();
  r.last_progress = now;
  ++r.attempts;
  in.attempts.insert(r.attempt);
  in.tokens += r.cost;
  ++in.assigned;
  attempt_owner_[r.attempt] = r.request.request_id;
  if (options_.affinity && !r.request.agent.empty()) session_[r.request.agent] = in.id;
  host_.start_attempt(in.id, r.attempt, r.request);
  return true;
}

void pool_core::on_piece(std::uint64_t attempt, const std::string& piece, pool_time now) {
  auto owner = attempt_owner_.find(attempt);
  if (owner == attempt_owner_.end()) return;  // an abandoned attempt
  auto& r = requests_.at(owner->second);
  r.last_progress = now;
  if (auto* in = find(r.target); in && r.generated < r.cost) {
    --in->tokens;
  }
  ++r.generated;
  r.attempt_text += piece;
  if (r.diverged || !r.on_piece) return;
  const auto& d = r.delivered;
  const std::size_t common = std::min(d.size(), r.attempt_text.size());
  if (r.attempt_text.compare(0, common, d, 0, common) != 0) {
    r.diverged = true;  // a retry produced other text: stop streaming (see pool.hpp)
    return;
  }
  if (r.attempt_text.size() > d.size()) {
    const std::string fresh = r.attempt_text.substr(d.size());
    r.delivered = r.attempt_text;
    r.on_piece(fresh);
  }
}

void pool_core::on_done(std::uint64_t attempt, result<generation_result> outcome) {
  auto owner = attempt_owner_.find(attempt);
  if (owner == attempt_owner_.end()) return;
  const auto id = owner->second;
  if (!outcome && retryable(outcome.error().code)) {
    auto& r = requests_.at(id);
    auto* in = find(r.target);
    if (in) ++in->failures;
    if (in && (outcome.error().code == errc::stopped ||
               (options_.failures_before_down > 0 && in->failures >= options_.failures_before_down))) {
      // The target itself is gone (or keeps failing): everything it runs moves elsewhere.
      on_instance_down(in->id, outcome.error().message);
      return;
    }
    fail_over(id, outcome.error().message);
    dispatch(now_());
    return;
  }
  if (auto* in = find(requests_.at(id).target)) {
    ++in->completed;
    in->failures = 0;
  }
  finish(id, std::move(outcome));
  dispatch(now_());
}

void pool_core::release(request_state& r) {
  if (r.attempt == 0) return;
  attempt_owner_.erase(r.attempt);
  if (auto* in = find(r.target)) {
    in->attempts.erase(r.attempt);
    in->tokens -= std::min(in->tokens, r.cost - std::min(r.cost, r.generated));
    maybe_stop_drained(*in);
  }
  r.attempt = 0;
}

void pool_core::finish(const std::string& request_id, result<generation_result> outcome) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  auto r = std::move(it->second);
  requests_.erase(it);
  release(r);
  if (outcome) ++counters_.completed;
  else ++counters_.failed;
  if (!outcome && outcome.error().code == errc::cancelled) ++counters_.cancelled;
  r.on_done(std::move(outcome));
}

void pool_core::fail_over(const std::string& request_id, const std::string& why) {
  auto& r = requests_.at(request_id);
  r.tried.insert(r.target);
  release(r);
  if (r.attempts >= options_.max_attempts) {
    finish(request_id, fail(errc::agent_failed,
                            fmt::format("request '{}' failed on {} targets; last: {}", request_id,
                                        r.attempts, why)));
    return;
  }
  ++counters_.failovers;
  queue_.push_front(request_id);  // admitted already: a retry goes first and may exceed the bound
}

void pool_core::cancel(const std::string& request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  if (it->second.attempt != 0) host_.cancel_on(it->second.target, request_id);
  finish(request_id, fail(errc::cancelled, fmt::format("request '{}' was cancelled", request_id)));
  dispatch(now_());
}

void pool_core::on_instance_down(std::uint64_t target_id, const std::string& why) {
  auto* in = find(target_id);
  if (in == nullptr) return;
  const bool was_draining = in->health == target_health::draining;
  in->health = target_health::down;
  std::vector<std::string> moved;
  for (auto a : in->attempts) moved.push_back(attempt_owner_.at(a));
  for (const auto& id : moved) fail_over(id, fmt::format("target '{}' is down: {}", in->name, why));
  in = find(target_id);
  if (in == nullptr) return;
  host_.stop_instance(target_id, true);
  const auto group = in->group;
  instances_.erase(std::find_if(instances_.begin(), instances_.end(),
                                [target_id](const instance& x) { return x.id == target_id; }));
  if (!was_draining && live_count(group) < options_.targets[group].min_count) {
    ++groups_[group].starting;  // keep the group at its minimum
    host_.start_instance(group);
  }
  dispatch(now_());
}

pool_core::instance* pool_core::find(std::uint64_t id) {
  for (auto& in : instances_)
    if (in.id == id) return &in;
  return nullptr;
}

std::optional<std::uint64_t> pool_core::find_instance(const std::string& name) const {
  for (const auto& in : instances_)
    if (in.name == name) return in.id;
  return std::nullopt;
}

pool_stats pool_core::stats() const {
  pool_stats s = counters_;
  s.queued = queue_.size();
  for (const auto& in : instances_) {
    const auto& t = options_.targets[in.group];
    s.targets.push_back(target_status{in.name, t.node, t.kind, t.weight, in.health, in.attempts.size(),
                                      in.tokens, t.capacity, in.completed, in.assigned});
  }
  return s;
}

} // namespace troupe::runtime::detail
