// The runtime: owns the actor system, the agent registry, topics, supervision and the
// transcript hook. CAF stays behind the pimpl; this header needs no CAF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/event.hpp"
#include "troupe/runtime/inference_client.hpp"
#include "troupe/runtime/kind_registry.hpp"
#include "troupe/runtime/mailbox.hpp"

namespace troupe::runtime {

/// How to build a runtime.
struct runtime_config {
  /// Scheduler worker threads (0 = one per core).
  std::size_t scheduler_threads = 0;
  /// Deterministic test mode: CAF's test coordinator runs nothing until `run_pending` (or
  /// `advance_time_ms`, `ask`, `wait`) drives it, on the calling thread; time is virtual.
  bool deterministic = false;
  /// Keep the last `transcript_capacity` events for `transcript()` (0 = keep none). When
  /// full, the oldest event is dropped (counted in `transcript_dropped`).
  std::size_t transcript_capacity = 0;
  /// Name used as `sender` by `send`/`publish`/`ask` from the host program.
  std::string host_name = "host";
};

/// Identifies a callback subscription made with `runtime::subscribe`.
using subscription_id = std::uint64_t;

/// The troupe runtime. Not copyable; methods are thread-safe unless noted.
class runtime {
public:
  /// Starts the actor system.
  explicit runtime(runtime_config config = {});
  /// Stops every agent and the actor system.
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The agent kinds this runtime can spawn by name.
  kind_registry& kinds();
  /// Sets the inference client agents use (nullptr: "no model engine available").
  void set_inference_client(std::shared_ptr<inference_client> client);
  /// Sets the observer that sees every event (nullptr removes it).
  void set_observer(observer_fn observer);

  /// Spawns an agent of `spec.kind` (looked up in `kinds()`).
  result<void> spawn(agent_spec spec);
  /// Spawns an agent with an explicit factory (used again on restart).
  result<void> spawn(agent_spec spec, agent_factory factory);
  /// Stops an agent (its queued mail is discarded).
  result<void> stop_agent(std::string_view name);
  /// True while an agent with that name is registered.
  bool has_agent(std::string_view name) const;
  /// Number of registered agents (internal helpers excluded).
  std::size_t agent_count() const;
  /// Names of registered agents, sorted.
  std::vector<std::string> agent_names() const;
  /// Mailbox counters of an agent.
  result<mailbox_stats> stats(std::string_view name) const;

  /// Sends a direct message from the host to agent `to`.
  result<void> send(std::string_view to, std::string content,
                    std::map<std::string, std::string> metadata = {});
  /// Sends a prepared envelope (recipient or topic set; `sender` defaults to the host name).
  result<void> send(envelope message);
  /// Publishes from the host; returns how many mailboxes accepted it.
  result<std::size_t> publish(std::string_view topic, std::string content,
                              std::map<std::string, std::string> metadata = {});
  /// Sends a request from the host; `on_reply` runs on a runtime thread with the reply or
  /// the error (timeout after `timeout_ms`).
  void request(std::string_view to, std::string content, std::int64_t timeout_ms,
               reply_callback on_reply, std::map<std::string, std::string> metadata = {});
  /// Request and wait for the reply. In deterministic mode this drives the scheduler (and
  /// virtual time) itself. Never hangs: a missing reply is `errc::timeout`.
  result<envelope> ask(std::string_view to, std::string content, std::int64_t timeout_ms);

  /// Subscribes a host callback to a topic pattern; it runs on a runtime thread, one call at
  /// a time, in publication order per publisher.
  result<subscription_id> subscribe(std::string_view pattern,
                                    std::function<void(const envelope&)> callback,
                                    mailbox_options mailbox = {});
  /// Removes a callback subscription.
  result<void> unsubscribe(subscription_id id);
  /// Adds a subscription for an agent at run time.
  result<void> subscribe_agent(std::string_view agent, std::string_view pattern);
  /// Removes a subscription of an agent at run time.
  result<void> unsubscribe_agent(std::string_view agent, std::string_view pattern);

  /// Ends the run: `wait` returns `reason`. Agents do this through their context.
  void request_stop(std::string reason);
  /// Blocks until a stop is requested, an escalated failure ends the run (error), every
  /// agent has stopped ("all agents stopped"), or `timeout_ms` passes (`errc::timeout`).
  /// In deterministic mode it runs the scheduler until one of these or until idle
  /// (`errc::timeout` with "idle").
  result<std::string> wait(std::optional<std::int64_t> timeout_ms = std::nullopt);

  /// The recorded events (see `runtime_config::transcript_capacity`), oldest first.
  std::vector<runtime_event> transcript() const;
  /// Events dropped from the recorded transcript because it was full.
  std::uint64_t transcript_dropped() const;

  /// Deterministic mode: runs every ready message; returns how many were run (0 otherwise).
  std::size_t run_pending();
  /// Deterministic mode: advances virtual time, fires due timeouts and runs what follows.
  std::size_t advance_time_ms(std::int64_t ms);
  /// True in deterministic mode.
  bool deterministic() const;

  /// Stops every agent (the destructor does this too).
  void shutdown();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::runtime
