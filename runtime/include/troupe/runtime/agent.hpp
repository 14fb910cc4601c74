// Agents: their specification, the behavior interface an agent kind implements, and the
// context through which a behavior acts (send, publish, request, reply, generate, ...).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/event.hpp"
#include "troupe/runtime/inference_client.hpp"
#include "troupe/runtime/mailbox.hpp"
#include "troupe/runtime/memory.hpp"

namespace troupe::runtime {

/// What the supervisor does when an agent's handler throws.
enum class restart_policy : std::uint8_t {
  restart,  ///< make a fresh behavior, keep history and queued mail (up to `max_restarts`)
  stop,     ///< stop the agent
  escalate, ///< stop the agent and end the whole run with `errc::agent_failed`
};

/// "restart", "stop" or "escalate".
const char* to_string(restart_policy policy);

/// Parses the names produced by `to_string(restart_policy)`; false when unknown.
bool parse_restart_policy(std::string_view text, restart_policy& out);

/// Everything that describes one agent.
struct agent_spec {
  std::string name;          ///< unique in the runtime; [A-Za-z0-9_.-], not starting with '_'
  std::string kind;          ///< agent kind ("llm", "human", "router", or a registered one)
  std::string role;          ///< role / system prompt
  std::string profile;       ///< inference profile name ("" = default)
  std::vector<std::string> subscriptions; ///< topic patterns subscribed at start
  std::map<std::string, std::string> params; ///< kind-specific options
  mailbox_options mailbox;   ///< inbox capacity and overflow policy
  restart_policy on_failure = restart_policy::restart; ///< supervision policy
  std::size_t max_restarts = 3; ///< after this many restarts a failure stops the agent
  std::size_t memory_tokens = 4096; ///< history budget (approximate tokens)
};

/// Called with the reply to a request, or with the error (timeout, mailbox_full, ...).
using reply_callback = std::function<void(result<envelope>)>;

/// The handle a behavior uses to act. Valid inside the behavior's methods and inside the
/// callbacks given to `request`, `generate` and `run_blocking` (they run later in the same
/// agent incarnation, so capturing `ctx` by reference there is fine); never store it elsewhere.
class agent_context {
public:
  virtual ~agent_context() = default;
  /// This agent's name.
  virtual const std::string& name() const = 0;
  /// This agent's specification (subscriptions reflect run-time changes).
  virtual const agent_spec& spec() const = 0;
  /// This agent's conversation history (kept across restarts).
  virtual conversation_memory& memory() = 0;

  /// Sends a message to agent `to`. Fails when `to` is unknown or its mailbox rejects.
  virtual result<void> send(std::string_view to, std::string content,
                            std::map<std::string, std::string> metadata = {}) = 0;
  /// Sends a prepared envelope (its recipient or topic says where; id, sender, timestamp set here).
  virtual result<void> send(envelope message) = 0;
  /// Publishes to every subscriber of `topic`; returns how many mailboxes accepted it.
  virtual result<std::size_t> publish(std::string_view topic, std::string content,
                                      std::map<std::string, std::string> metadata = {}) = 0;
  /// Sends a request; `on_reply` runs later in this agent with the reply, or with
  /// `errc::timeout` after `timeout_ms`, or at once with the send error.
  virtual void request(std::string_view to, std::string content, std::int64_t timeout_ms,
                       reply_callback on_reply,
                       std::map<std::string, std::string> metadata = {}) = 0;
  /// Replies to a request envelope.
  virtual result<void> reply(const envelope& request, std::string content,
                             std::map<std::string, std::string> metadata = {}) = 0;
  /// Replies to a request with an error (the requester's callback gets `errc::agent_failed`).
  virtual result<void> reply_error(const envelope& request, std::string message) = 0;

  /// Adds a topic subscription (pattern syntax in topic.hpp).
  virtual result<void> subscribe(std::string_view pattern) = 0;
  /// Removes a topic subscription.
  virtual result<void> unsubscribe(std::string_view pattern) = 0;

  /// Asks the configured inference client for text. Callbacks run later in this agent.
  /// Without a client `on_done` gets `errc::no_engine` ("no model engine available").
  /// The request id is returned (for `cancel_generation`).
  virtual std::string generate(generation_request request, piece_callback on_piece,
                               done_callback on_done) = 0;
  /// Cancels a generation started by this agent.
  virtual void cancel_generation(std::string_view request_id) = 0;

  /// Runs blocking `work` (e.g. reading stdin) off the actor threads, then `done` in this
  /// agent with its result. In deterministic mode `work` runs inline.
  virtual void run_blocking(std::function<result<std::string>()> work,
                            std::function<void(result<std::string>)> done) = 0;

  /// Adds a `note` event to the transcript.
  virtual void note(std::string detail) = 0;
  /// Ends the whole run (runtime::wait returns `reason`).
  virtual void stop_run(std::string reason) = 0;
  /// Stops this agent after the current message.
  virtual void stop_self() = 0;
};

/// The logic of an agent kind. One instance per agent incarnation (a restart makes a new one).
class agent_behavior {
public:
  virtual ~agent_behavior() = default;
  /// Called once when the agent (or its restarted incarnation) starts.
  virtual void on_start(agent_context& ctx) {}
  /// Called for each envelope taken from the mailbox (replies to this agent's own requests go
  /// to their callbacks instead). May throw: the supervisor then applies `on_failure`.
  virtual void on_message(agent_context& ctx, const envelope& message) = 0;
};

/// Makes a behavior for a spec; an error refuses the spawn.
using agent_factory = std::function<result<std::unique_ptr<agent_behavior>>(const agent_spec&)>;

/// A message handler for `from_function`.
using message_handler = std::function<void(agent_context& ctx, const envelope& message)>;

/// A factory whose behaviors call `fn` for each message (all incarnations share `fn`, so it
/// must be safe to call from the agent's thread).
agent_factory from_function(message_handler fn);

} // namespace troupe::runtime
