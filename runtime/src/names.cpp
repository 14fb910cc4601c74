// Names of the runtime's enums and small helpers.
#include <chrono>
#include <string_view>

#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/event.hpp"
#include "troupe/runtime/mailbox.hpp"

namespace troupe::runtime {

const char* to_string(errc code) {
  switch (code) {
    case errc::not_found: return "not_found";
    case errc::duplicate_name: return "duplicate_name";
    case errc::invalid_argument: return "invalid_argument";
    case errc::mailbox_full: return "mailbox_full";
    case errc::timeout: return "timeout";
    case errc::no_engine: return "no_engine";
    case errc::agent_failed: return "agent_failed";
    case errc::stopped: return "stopped";
    case errc::cancelled: return "cancelled";
    case errc::unknown_kind: return "unknown_kind";
    case errc::io: return "io";
    case errc::overloaded: return "overloaded";
    case errc::unavailable: return "unavailable";
    case errc::protocol: return "protocol";
  }
  return "unknown";
}

const char* to_string(message_kind kind) {
  switch (kind) {
    case message_kind::message: return "message";
    case message_kind::request: return "request";
    case message_kind::reply: return "reply";
    case message_kind::event: return "event";
  }
  return "unknown";
}

bool parse_message_kind(std::string_view text, message_kind& out) {
  for (auto k : {message_kind::message, message_kind::request, message_kind::reply,
                 message_kind::event})
    if (text == to_string(k)) {
      out = k;
      return true;
    }
  return false;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

const char* to_string(overflow_policy policy) {
  switch (policy) {
    case overflow_policy::drop_newest: return "drop_newest";
    case overflow_policy::drop_oldest: return "drop_oldest";
    case overflow_policy::reject: return "reject";
  }
  return "unknown";
}

bool parse_overflow_policy(std::string_view text, overflow_policy& out) {
  for (auto p : {overflow_policy::drop_newest, overflow_policy::drop_oldest, overflow_policy::reject})
    if (text == to_string(p)) {
      out = p;
      return true;
    }
  return false;
}

const char* to_string(restart_policy policy) {
  switch (policy) {
    case restart_policy::restart: return "restart";
    case restart_policy::stop: return "stop";
    case restart_policy::escalate: return "escalate";
  }
  return "unknown";
}

bool parse_restart_policy(std::string_view text, restart_policy& out) {
  for (auto p : {restart_policy::restart, restart_policy::stop, restart_policy::escalate})
    if (text == to_string(p)) {
      out = p;
      return true;
    }
  return false;
}

const char* to_string(event_type type) {
  switch (type) {
    case event_type::delivered: return "delivered";
    case event_type::dropped: return "dropped";
    case event_type::rejected: return "rejected";
    case event_type::spawned: return "spawned";
    case event_type::stopped: return "stopped";
    case event_type::failed: return "failed";
    case event_type::restarted: return "restarted";
    case event_type::escalated: return "escalated";
    case event_type::note: return "note";
  }
  return "unknown";
}

} // namespace troupe::runtime
