// Who speaks next: the flow of a scenario as deterministic logic, without actors. The
// conductor asks next(), lets the named agents speak, and reports each message with record().
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// One message of the conversation as the flow sees it.
struct turn_event {
  std::string speaker;  ///< agent name (or the opening's `opening_from`)
  std::string text;     ///< what it said
  std::string handoff;  ///< structured handoff target (metadata); empty = look for a HANDOFF line
  std::string topic;    ///< topic it was published on (free_form, broadcast); may be empty
};

/// What the conductor should do next.
struct flow_step {
  enum class kind {
    speak,     ///< agents[0] takes a turn
    broadcast, ///< every agent in `agents` answers the same conversation state, in this order
    route,     ///< ask router agents[0] to pick the next speaker, then call choose()
    finished,  ///< the flow has nothing more to do; `reason` says why
  };
  kind type = kind::finished;
  std::vector<std::string> agents;
  std::string topic;   ///< topic that triggered the turn (free_form) or carries it (broadcast)
  std::string reason;  ///< finished: why
};

/// The handoff target named by the last "HANDOFF: name" line of `text` (case-insensitive
/// keyword; the name's surrounding quotes/punctuation are dropped); empty when none.
[[nodiscard]] std::string parse_handoff(const std::string& text);

/// Decides the order of turns for every flow type:
///  - round_robin: speakers in order, cycling.
///  - broadcast: each round every speaker answers the state at the start of the round.
///  - selector: the first speaker is flow.start when set, otherwise the router picks every
///    turn (route step, then choose()).
///  - handoff: flow.start (or the first speaker) begins; each reply names the next agent by a
///    "HANDOFF: name" line or turn_event::handoff; no target -> flow.fallback, else finished.
///  - pipeline: flow.stages in order, `rounds` times, then finished.
///  - free_form: the opening is published on flow.topic; each message wakes the agents that
///    subscribe to its topic (not its author), first come first served. The wake-up queue
///    holds each agent at most once, so it never exceeds the number of agents.
class flow_controller {
public:
  /// `s` must be a validated scenario and outlive the controller.
  explicit flow_controller(const scenario& s);

  /// The next step; calling it again without record()/choose() returns the same step.
  [[nodiscard]] flow_step next() const;

  /// A message was said (by the speaker of the current step, or one of a broadcast's agents).
  void record(const turn_event& e);

  /// The router's choice after a route step; an error (and no change) when `agent` is not a
  /// speaker of this flow.
  tl::expected<void, std::string> choose(const std::string& agent);

  /// Everything said so far, the opening (if any) first.
  [[nodiscard]] const std::vector<turn_event>& history() const { return history_; }

  /// Number of messages recorded (the opening not counted).
  [[nodiscard]] std::size_t turns() const { return turns_; }

private:
  bool is_speaker(const std::string& name) const;
  void wake_subscribers(const std::string& topic, const std::string& author);

  const scenario& s_;
  std::vector<std::string> speakers_;
  std::vector<turn_event> history_;
  std::size_t turns_ = 0;
  std::size_t position_ = 0;          ///< round_robin / pipeline: index of the next turn
  std::size_t broadcast_answers_ = 0; ///< broadcast: answers in the current round
  std::optional<std::string> next_;   ///< selector choice / handoff target
  std::string finished_;              ///< non-empty once the flow ended by itself
  /// free_form wake-ups: pushed by record() for subscribers of a message's topic, popped by
  /// record() when the woken agent speaks; holds each agent at most once (no overflow).
  std::deque<std::pair<std::string, std::string>> wake_;  // (agent, topic)
};

} // namespace troupe::runtime
