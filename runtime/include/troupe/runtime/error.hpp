// Errors of the runtime: values, never exceptions across the module boundary.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace troupe::runtime {

/// What kind of failure; the message names the agent, topic or request involved.
enum class errc {
  not_found,        ///< no agent (or subscription, kind, request) with that name or id
  duplicate_name,   ///< an agent with that name is already registered
  invalid_argument, ///< a malformed name, topic pattern or option
  mailbox_full,     ///< the recipient's bounded mailbox refused the message (policy `reject`)
  timeout,          ///< a request got no reply before its deadline
  no_engine,        ///< an llm agent asked for text but no model engine is configured
  agent_failed,     ///< an agent's handler failed (or it replied with an error)
  stopped,          ///< the runtime or the agent is shutting down
  cancelled,        ///< the caller cancelled the work
  unknown_kind,     ///< no agent kind registered under that name
  io,               ///< an input source (e.g. stdin) failed or reached its end
  overloaded,       ///< a bounded queue (e.g. an inference queue) is full; retry later
  unavailable,      ///< a remote service (e.g. an HTTP inference endpoint) is unreachable or failed
  protocol,         ///< a remote peer sent a malformed reply (bad JSON, bad event stream)
};

/// An error with a human-readable message.
struct error {
  errc code;
  std::string message;
};

/// The return type of every fallible runtime function.
template <class T>
using result = tl::expected<T, error>;

/// Shorthand for `tl::make_unexpected(error{code, message})`.
inline tl::unexpected<error> fail(errc code, std::string message) {
  return tl::make_unexpected(error{code, std::move(message)});
}

/// A short name for an error code ("mailbox_full", ...).
const char* to_string(errc code);

} // namespace troupe::runtime
