// The runtime's CAF type-ID block, atoms and `inspect` functions (private; CAF stays here).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "troupe/runtime/envelope.hpp"

namespace troupe::runtime {

/// Serialization of the envelope (field order is the wire order for `version` 1).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, envelope& x) {
  return f(caf::meta::type_name("envelope"), x.version, x.id, x.sender, x.recipient, x.topic,
           x.conversation_id, x.parent_id, x.timestamp_ms, x.content, x.metadata, x.kind);
}

namespace detail {

struct agent_ctx;
struct agent_cell;

/// Work posted into an agent's own thread (generation callbacks, blocking-work results, host
/// requests). Control traffic: one per outstanding operation, not subject to the mailbox bound.
struct posted_task {
  std::function<void(agent_ctx&)> fn;
};

/// A cell handed to the supervisor.
struct cell_ref {
  std::shared_ptr<agent_cell> cell;
};

} // namespace detail
} // namespace troupe::runtime

CAF_BEGIN_TYPE_ID_BLOCK(troupe_runtime, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(troupe_runtime, (troupe::runtime::envelope))
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, wake_atom, "wake")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, start_atom, "start")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, timeout_atom, "timeout")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, gen_tmo_atom, "gen_tmo")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, task_atom, "task")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, spawn_atom, "spawn")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, stop_atom, "stop")
  CAF_ADD_ATOM(troupe_runtime, troupe::runtime::atoms, host_tmo_atom, "host_tmo")
CAF_END_TYPE_ID_BLOCK(troupe_runtime)

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::runtime::detail::posted_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::runtime::detail::cell_ref)
