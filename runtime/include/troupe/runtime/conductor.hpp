// The conductor drives a scenario's conversation through a running runtime: it asks each
// speaker for its turn (a request), delivers every message to the others as context, and
// feeds the flow_controller and termination_tracker until the conversation ends.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "troupe/runtime/runtime.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// One message of a conducted conversation.
struct conducted_message {
  std::size_t turn = 0;            ///< 1-based turn number (0 for the opening)
  std::string speaker;             ///< who said it
  std::string text;                ///< what was said
  std::vector<std::string> to;     ///< direct recipients it was delivered to (empty for a topic)
  std::string topic;               ///< topic it was published on (free_form), else ""
  std::string id;                  ///< id of the reply envelope ("" for the opening)
  std::int64_t timestamp_ms = 0;   ///< when it was said (Unix-epoch ms)
  std::int64_t tokens = 0;         ///< generated tokens (llm) or approximate tokens (others)
  bool tokens_exact = false;       ///< true when `tokens` came from the engine
  double latency_ms = 0;           ///< request to reply
  std::string handoff;             ///< handoff target named by the message, if any
};

/// Per-agent totals of a run.
struct agent_totals {
  std::size_t turns = 0;      ///< messages said
  std::int64_t tokens = 0;    ///< tokens in them
  double latency_ms = 0;      ///< sum of request-to-reply times
};

/// How a conducted run ended.
struct run_summary {
  std::string reason;                          ///< why it ended
  bool failed = false;                         ///< true when an agent or the runtime failed
  std::size_t turns = 0;                       ///< messages said (opening not counted)
  std::int64_t tokens = 0;                     ///< tokens in them
  double wall_s = 0;                           ///< duration of the conversation
  std::map<std::string, agent_totals> agents;  ///< by speaker
};

/// What the conductor reports as it goes (called on the conducting thread).
struct conductor_callbacks {
  std::function<void(const std::string& speaker, std::size_t turn)> on_turn_start; ///< a speaker was asked
  std::function<void(const conducted_message&)> on_message;  ///< a message was said (opening included)
  std::function<void(const std::string& router, const std::string& choice)> on_route; ///< a router chose
};

/// Options of one conducted run.
struct conductor_options {
  std::int64_t turn_timeout_ms = 300000; ///< longest wait for one reply
  conductor_callbacks callbacks;         ///< progress reports
};

/// Runs the conversation of `s` (already validated) on `rt`, whose agents must already be
/// spawned under the scenario's names. Blocks until the flow finishes, a termination
/// condition holds or an agent fails; never hangs longer than `turn_timeout_ms` per turn.
[[nodiscard]] run_summary conduct(runtime& rt, const scenario& s, const conductor_options& options = {});

} // namespace troupe::runtime
