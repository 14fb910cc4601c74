// Shared internals of the runtime (private): agent cells, the directory, the core state.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "inbox.hpp"
#include "troupe/runtime/runtime.hpp"

namespace troupe::runtime::detail {

struct core;

/// Milliseconds since the Unix epoch from the coarse real-time clock (about 25 ns here against
/// about 100 ns for the precise one; its resolution is the kernel tick, 1 to 4 ms).
inline std::int64_t coarse_now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

/// Everything about one agent that outlives an actor incarnation: spec, factory, mailbox,
/// history. Shared by the directory, the supervisor and the agent's actor.
struct agent_cell {
  agent_cell(agent_spec s, agent_factory f, core& c, bool is_internal);
  agent_spec spec;
  agent_factory factory;
  bounded_inbox inbox;
  conversation_memory memory; ///< used only by the current incarnation's thread
  core& owner;
  bool internal;              ///< runtime helper (host, callback subscription)
  std::size_t restarts = 0;   ///< supervisor only
  std::atomic<bool> stopping{false};
  std::vector<std::string> topics; ///< current subscriptions, guarded by the directory's lock
  /// Bumped (under the directory's lock) whenever `topics` changes, so the agent's spec view
  /// knows when to copy them again.
  std::atomic<std::uint64_t> topics_version{0};
  std::string last_failure;   ///< set by the dying actor, read by the supervisor after `down`
};

using cell_ptr = std::shared_ptr<agent_cell>;

/// Names and topic subscriptions. Readers (send, publish) share the lock.
class directory {
public:
  result<void> add(const cell_ptr& cell);
  cell_ptr find(std::string_view name) const;
  /// Removes the agent and its subscriptions; returns it (or null). With `only`, removes it
  /// only when the registered agent is that cell.
  cell_ptr remove(std::string_view name, const agent_cell* only = nullptr);
  result<void> subscribe(std::string_view name, std::string_view pattern);
  result<void> unsubscribe(std::string_view name, std::string_view pattern);
  /// Every agent subscribed to a pattern matching `topic`, each once.
  std::vector<cell_ptr> matching(std::string_view topic) const;
  std::size_t count(bool with_internal) const;
  std::vector<std::string> names(bool with_internal) const;
  std::vector<cell_ptr> all() const;
  /// A copy of `cell`'s current subscriptions (taken under the lock) and their version.
  std::vector<std::string> topics_of(const agent_cell& cell, std::uint64_t& version) const;

private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, cell_ptr> agents_;
  std::unordered_map<std::string, std::vector<cell_ptr>> exact_;
  std::vector<std::pair<std::string, cell_ptr>> wildcard_;
};

/// A request sent by the host program, waiting for its reply.
struct host_request {
  reply_callback on_reply;
};

/// The runtime's state (runtime::impl is this).
struct core {
  explicit core(runtime_config cfg);
  ~core();

  runtime_config config;
  std::unique_ptr<caf::actor_system_config> caf_config;
  std::unique_ptr<caf::actor_system> system;
  kind_registry kinds;
  directory agents;
  caf::actor supervisor;
  std::string id_prefix;
  /// Unique per runtime in this process (keys the per-thread id blocks of `make_id`).
  std::uint64_t serial;
  /// The next id block's first counter; threads take `id_block_size` counters at a time, so
  /// ids are unique but only increase per thread.
  std::atomic<std::uint64_t> next_id{1};

  std::mutex client_mutex;
  std::shared_ptr<inference_client> client;

  std::mutex observer_mutex;
  std::atomic<bool> observing{false};
  observer_fn observer;
  std::deque<runtime_event> recorded; ///< bounded by config.transcript_capacity
  std::uint64_t recorded_dropped = 0;

  std::mutex host_mutex;
  std::unordered_map<std::string, host_request> host_pending;
  std::unordered_map<subscription_id, std::string> callback_subs;
  std::atomic<subscription_id> next_sub{1};

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  std::optional<result<std::string>> outcome;
  std::atomic<std::size_t> live_agents{0};

  /// A new unique envelope/request id: "<id_prefix>-<counter in base 36>".
  std::string make_id();
  bool wants_events() const { return observing.load(std::memory_order_acquire); }
  void emit(runtime_event event);
  void emit(event_type type, const std::string& agent, std::string detail,
            std::optional<envelope> message = std::nullopt);
  /// Fills in id/timestamp/conversation and delivers to a recipient's or topic's mailboxes.
  /// `unit` is the sending actor's execution unit (null from the host): a wake sent from a
  /// worker stays on that worker's queue, as CAF does for actor-to-actor sends.
  result<std::size_t> route(envelope message, caf::execution_unit* unit = nullptr);
  /// Sets id, timestamp and conversation id where missing. The timestamp comes from the
  /// coarse real-time clock (about 25 ns here against about 100 ns for the precise one; its
  /// resolution is the kernel tick, 1 to 4 ms), since every message pays for it.
  void stamp(envelope& message);
  /// Pushes into `cell`'s inbox. `message` is moved from only when the inbox took it: after
  /// an error (`errc::stopped`, `errc::mailbox_full`) the caller still holds it.
  result<void> deliver(const cell_ptr& cell, std::shared_ptr<const envelope>&& message,
                       caf::execution_unit* unit) {
    auto r = cell->inbox.push(std::move(message), unit);
    if (r.what == bounded_inbox::outcome::queued) [[likely]]
      return {};
    return not_queued(*cell, r);
  }
  /// The error or event for a push that did not simply queue.
  result<void> not_queued(const agent_cell& cell, const bounded_inbox::push_result& r);
  result<void> spawn(agent_spec spec, agent_factory factory, bool internal);
  void finish(const cell_ptr& cell, bool count_stop);
  void end_run(result<std::string> outcome_value);
  void complete_host_request(const std::string& id, result<envelope> reply);
  std::shared_ptr<inference_client> inference() {
    std::lock_guard<std::mutex> guard{client_mutex};
    return client;
  }
  void run_scheduler();
};

} // namespace troupe::runtime::detail

namespace troupe::runtime {
struct runtime::impl : detail::core {
  using detail::core::core;
};
} // namespace troupe::runtime
