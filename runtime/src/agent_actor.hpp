// The CAF actor behind every agent (private).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "core.hpp"
#include "type_ids.hpp"

namespace troupe::runtime::detail {

struct agent_state;

/// Per-incarnation state of an agent actor; it is also the behavior's `agent_context`.
struct agent_ctx : agent_context {
  caf::stateful_actor<agent_state>* self = nullptr;
  cell_ptr cell;
  std::unique_ptr<agent_behavior> behavior;
  std::unordered_map<std::string, reply_callback> pending; ///< own requests by envelope id
  struct generation {
    piece_callback on_piece;
    done_callback on_done;
  };
  std::unordered_map<std::string, generation> generations; ///< running generations by id
  bool quit_after = false;
  /// This incarnation's view of the spec: `cell->spec` with the subscriptions as they are now
  /// (run-time subscribe/unsubscribe, by the agent or the host); made by the first `spec()`
  /// call (idle agents pay 8 bytes) and refreshed when the cell's `topics_version` moved.
  /// Only this actor touches it.
  mutable std::unique_ptr<agent_spec> spec_view;
  mutable std::uint64_t spec_view_version = ~std::uint64_t{0};
  /// Recently addressed agents, so repeated sends skip the directory's lock. Bounded: cleared
  /// when it reaches `peer_cache_size`; an entry whose inbox is closed is looked up again.
  std::unordered_map<std::string, cell_ptr> peers;
  static constexpr std::size_t peer_cache_size = 64;
  /// The last peer addressed (checked by name before `peers`: a conversation mostly talks to one).
  cell_ptr last_peer;
  /// Delivers a stamped direct message through the peer cache.
  result<void> send_direct(std::shared_ptr<envelope> message);

  // agent_context
  const std::string& name() const override { return cell->spec.name; }
  const agent_spec& spec() const override;
  conversation_memory& memory() override { return cell->memory; }
  result<void> send(std::string_view to, std::string content,
                    std::map<std::string, std::string> metadata) override;
  result<void> send(envelope message) override;
  result<std::size_t> publish(std::string_view topic, std::string content,
                              std::map<std::string, std::string> metadata) override;
  void request(std::string_view to, std::string content, std::int64_t timeout_ms,
               reply_callback on_reply, std::map<std::string, std::string> metadata) override;
  result<void> reply(const envelope& request, std::string content,
                     std::map<std::string, std::string> metadata) override;
  result<void> reply_error(const envelope& request, std::string message) override;
  result<void> subscribe(std::string_view pattern) override;
  result<void> unsubscribe(std::string_view pattern) override;
  std::string generate(generation_request request, piece_callback on_piece,
                       done_callback on_done) override;
  void cancel_generation(std::string_view request_id) override;
  void run_blocking(std::function<result<std::string>()> work,
                    std::function<void(result<std::string>)> done) override;
  void note(std::string detail) override;
  void stop_run(std::string reason) override;
  void stop_self() override;

  /// Hands one envelope to a pending callback or the behavior.
  void deliver(const envelope& message);
  /// Posts `fn` to run later in this actor.
  void post(std::function<void(agent_ctx&)> fn);
};

/// The CAF state wrapper (CAF reserves a `name` member of states for the actor's name).
struct agent_state {
  agent_ctx ctx;
};

/// The behavior of an agent actor incarnation for `cell`.
caf::behavior agent_actor(caf::stateful_actor<agent_state>* self, cell_ptr cell);

/// Hands up to a batch of inbox envelopes to the agent (the `wake` message's handler).
void drain_inbox(caf::stateful_actor<agent_state>* self);

/// The actor type of an agent incarnation (spawn with `spawn<agent_actor_type>(cell)`): the
/// stateful actor of `agent_actor`, which handles its inbox's `wake` ahead of CAF's generic
/// message dispatch.
class agent_actor_type : public caf::stateful_actor<agent_state> {
public:
  agent_actor_type(caf::actor_config& cfg, cell_ptr cell);
  caf::behavior make_behavior() override;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;
};

} // namespace troupe::runtime::detail
