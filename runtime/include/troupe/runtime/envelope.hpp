// The one message envelope used for everything agents exchange (direct, topic, request, reply,
// event). It is a plain struct so that it can later cross machines; `version` says which layout.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace troupe::runtime {

/// What an envelope is for.
enum class message_kind : std::uint8_t {
  message = 0, ///< fire-and-forget direct message or topic publication
  request = 1, ///< expects one `reply` whose `parent_id` is this envelope's `id`
  reply = 2,   ///< answer to a request; `metadata["error"]` is set when the request failed
  event = 3,   ///< a notification (e.g. a topic event or a system notice)
};

/// The current envelope layout version.
inline constexpr std::uint16_t envelope_version = 1;

/// A message between agents. Exactly one of `recipient` (direct) and `topic` (publication)
/// is non-empty once the runtime accepted it.
struct envelope {
  std::uint16_t version = envelope_version; ///< layout version (for the wire)
  std::string id;              ///< unique: "<runtime prefix>-<counter in base 36>", set by the runtime
  std::string sender;          ///< agent name of the sender ("" or a host name for outsiders)
  std::string recipient;       ///< agent name for direct messages, else ""
  std::string topic;           ///< topic for publications, else ""
  std::string conversation_id; ///< groups a conversation; inherited from the parent by default
  std::string parent_id;       ///< the envelope this one answers or was caused by ("" if none)
  std::int64_t timestamp_ms = 0; ///< ms since the Unix epoch, set when sent (coarse clock: 1-4 ms steps)
  std::string content;         ///< the text payload
  std::map<std::string, std::string> metadata; ///< free-form string attributes
  message_kind kind = message_kind::message;   ///< message / request / reply / event
};

/// "message", "request", "reply" or "event".
const char* to_string(message_kind kind);

/// Parses the names produced by `to_string(message_kind)`; false when unknown.
bool parse_message_kind(std::string_view text, message_kind& out);

/// Milliseconds since the Unix epoch (system clock).
std::int64_t now_ms();

} // namespace troupe::runtime
