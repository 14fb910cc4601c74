// The pool's bookkeeping (private): requests, attempts, targets, the admission queue,
// failover and elastic decisions. Plain C++ with no CAF and no threads: the pool actor owns
// one and calls it from its handlers; side effects on targets go through `pool_host`.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "troupe/runtime/pool.hpp"

namespace troupe::runtime::detail {

using pool_clock = std::chrono::steady_clock;
using pool_time = pool_clock::time_point;

/// What the core asks its owner (the pool actor) to do.
class pool_host {
public:
  virtual ~pool_host() = default;
  /// Run attempt `attempt` of `request` on instance `target_id`.
  virtual void start_attempt(std::uint64_t target_id, std::uint64_t attempt,
                             const generation_request& request) = 0;
  /// Cancel `request_id` on instance `target_id` (its outcome will be ignored).
  virtual void cancel_on(std::uint64_t target_id, const std::string& request_id) = 0;
  /// Start a new instance of group `group` (answer with pool_core::add_instance).
  virtual void start_instance(std::size_t group) = 0;
  /// Stop instance `target_id` (drained: gently; `kill`: it stalled or died).
  virtual void stop_instance(std::uint64_t target_id, bool kill) = 0;
};

/// The state of one pool (see pool.hpp for the behaviour it implements).
class pool_core {
public:
  /// `now` is the pool actor's clock (virtual in deterministic mode).
  pool_core(pool_options options, pool_host& host, std::function<pool_time()> now);

  /// A new request (admission, or errc::overloaded / invalid_argument at once).
  void submit(generation_request request, piece_callback on_piece, done_callback on_done, pool_time now);
  /// Cancels a queued or running request: its slot is free at once.
  void cancel(const std::string& request_id);
  /// A piece of attempt `attempt`.
  void on_piece(std::uint64_t attempt, const std::string& piece, pool_time now);
  /// The outcome of attempt `attempt`.
  void on_done(std::uint64_t attempt, result<generation_result> outcome);
  /// Instance `target_id` died: its attempts run again elsewhere.
  void on_instance_down(std::uint64_t target_id, const std::string& why);
  /// A new instance of `group` is ready (returns its id; no work is given to it until
  /// kick()) or failed to start.
  std::optional<std::uint64_t> add_instance(std::size_t group, bool ok, const std::string& why);
  /// Starts queued requests on free slots.
  void kick() { dispatch(now_()); }
  /// Periodic work: deadlines, stalls, elastic growth and shrinking.
  void tick(pool_time now);
  /// Marks an instance draining by name; false when unknown.
  bool drain(const std::string& name);
  /// The id of a live instance by name.
  std::optional<std::uint64_t> find_instance(const std::string& name) const;
  /// Ends every request with errc::stopped and stops every instance.
  void stop_all();

  [[nodiscard]] pool_stats stats() const;
  [[nodiscard]] const std::string& last_start_error() const { return last_start_error_; }
  [[nodiscard]] const pool_options& options() const { return options_; }

private:
  struct instance {
    std::uint64_t id = 0;
    std::size_t group = 0;
    std::string name;
    target_health health = target_health::up;
    std::set<std::uint64_t> attempts;  ///< running attempts
    std::size_t tokens = 0;            ///< estimated tokens still to do
    std::size_t completed = 0;
    std::size_t assigned = 0;
    std::size_t failures = 0;          ///< consecutive retryable errors
  };
  struct request_state {
    generation_request request;
    piece_callback on_piece;
    done_callback on_done;
    std::size_t cost = 0;          ///< estimated tokens (prompt + max_tokens)
    std::size_t generated = 0;     ///< pieces of the current attempt
    std::string delivered;         ///< text streamed to the caller so far
    std::string attempt_text;      ///< text of the current attempt
    bool diverged = false;         ///< a retry's text left `delivered`: streaming stopped
    std::size_t attempts = 0;      ///< attempts started
    std::uint64_t attempt = 0;     ///< current attempt id (0: queued)
    std::uint64_t target = 0;      ///< instance of the current attempt
    std::set<std::uint64_t> tried; ///< instances that failed it
    pool_time last_progress{};
  };
  struct group_state {
    std::size_t starting = 0;      ///< instances asked for and not ready yet
    std::size_t high_ticks = 0;
    std::size_t low_ticks = 0;
    std::size_t next_number = 1;   ///< for instance names
  };

  void dispatch(pool_time now);
  bool try_start(request_state& r, pool_time now);
  void finish(const std::string& request_id, result<generation_result> outcome);
  void release(request_state& r);
  void fail_over(const std::string& request_id, const std::string& why);
  void elastic(std::size_t group);
  void maybe_stop_drained(instance& in);
  std::size_t live_count(std::size_t group) const;
  instance* find(std::uint64_t id);

  pool_options options_;
  pool_host& host_;
  std::function<pool_time()> now_;
  balancer balancer_;
  std::mt19937_64 rng_;
  std::vector<group_state> groups_;
  std::vector<instance> instances_;    ///< creation order; stopped ones are erased
  std::unordered_map<std::string, request_state> requests_;
  std::deque<std::string> queue_;      ///< bounded by options_.queue_capacity (retries may exceed it)
  std::unordered_map<std::uint64_t, std::string> attempt_owner_;  ///< attempt -> request id
  std::unordered_map<std::string, std::uint64_t> session_;        ///< agent -> instance
  std::uint64_t next_attempt_ = 1;
  std::uint64_t next_instance_ = 1;
  pool_stats counters_;
  std::string last_start_error_; ///< why the last instance failed to start
};

} // namespace troupe::runtime::detail
