// What the runtime reports to an observer (the transcript sink).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "troupe/runtime/envelope.hpp"

namespace troupe::runtime {

/// The kinds of runtime events.
enum class event_type : std::uint8_t {
  delivered,  ///< an envelope was handed to `agent` (one event per recipient)
  dropped,    ///< an envelope was discarded by a full mailbox (drop_newest / drop_oldest)
  rejected,   ///< an envelope was refused by a full mailbox (reject)
  spawned,    ///< `agent` started
  stopped,    ///< `agent` stopped
  failed,     ///< `agent`'s handler failed; `detail` says why
  restarted,  ///< `agent` was restarted by its supervisor
  escalated,  ///< `agent`'s failure was escalated: the run ends with an error
  note,       ///< anything else an agent wants in the transcript (`detail`)
};

/// "delivered", "dropped", ...
const char* to_string(event_type type);

/// One runtime event.
struct runtime_event {
  event_type type = event_type::note; ///< what happened
  std::int64_t timestamp_ms = 0;      ///< when (Unix-epoch ms)
  std::string agent;                  ///< the agent it happened to
  std::string detail;                 ///< free text (failure reason, policy, ...)
  std::optional<envelope> message;    ///< the envelope involved, if any
};

/// Receives every event. Called from runtime threads, one call at a time (serialized).
using observer_fn = std::function<void(const runtime_event&)>;

} // namespace troupe::runtime
