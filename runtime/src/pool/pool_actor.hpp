// The pool's CAF side (private): the pool actor (owns a pool_core), inference actors (each
// owns one target client), their message types and the shared stats box.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/type_id.hpp>

#include "../type_ids.hpp"
#include "pool_core.hpp"

namespace troupe::runtime::detail {

struct pool_actor_state;

/// Work run inside the pool actor (target callbacks, host calls). One per event; these are
/// control messages and bounded by the requests in flight.
struct pool_task {
  std::function<void(pool_actor_state&)> fn;
};

/// Work run inside an inference actor, on its client (start or cancel one attempt).
struct target_call {
  std::function<void(inference_client&)> fn;
};

/// The latest pool_stats, written by the pool actor after each step, read by any thread.
struct stats_box {
  mutable std::mutex mutex;
  pool_stats stats;
};

/// One starting instance handed to the pool actor.
struct ready_instance {
  std::size_t group = 0;
  std::shared_ptr<inference_client> client;
};

/// State of the pool actor. Handlers call into `core`; `core` calls back through `host`.
struct pool_actor_state {
  std::unique_ptr<pool_core> core;
  std::unique_ptr<pool_host> host;
  std::shared_ptr<stats_box> box;
  std::unordered_map<std::uint64_t, caf::actor> actors;     ///< instance id -> inference actor
  std::map<caf::actor_addr, std::uint64_t> ids;             ///< inference actor -> instance id
  bool stopped = false;
  bool deterministic = false;
  caf::stateful_actor<pool_actor_state>* self = nullptr;
  /// Copies the core's stats into the box.
  void publish();
  /// The actor clock's time (virtual in deterministic mode).
  [[nodiscard]] pool_time core_now() const;
  /// An instance of `group` was built (`client` set) or failed (`why`): spawn its actor.
  void add_ready(std::size_t group, std::shared_ptr<inference_client> client, const std::string& why);
};

/// Spawns the pool actor with its starting instances (already built by their factories).
/// `deterministic`: instance factories run inline (tests), else on a detached helper actor.
caf::actor spawn_pool_actor(caf::actor_system& sys, pool_options options, std::shared_ptr<stats_box> box,
                            std::vector<ready_instance> ready, bool deterministic);

} // namespace troupe::runtime::detail

CAF_BEGIN_TYPE_ID_BLOCK(troupe_pool, caf::id_block::troupe_runtime::end)
  CAF_ADD_TYPE_ID(troupe_pool, (troupe::runtime::detail::pool_task))
  CAF_ADD_TYPE_ID(troupe_pool, (troupe::runtime::detail::target_call))
  CAF_ADD_ATOM(troupe_pool, troupe::runtime::pool_atoms, pool_tick_atom, "pool_tick")
CAF_END_TYPE_ID_BLOCK(troupe_pool)

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::runtime::detail::pool_task)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::runtime::detail::target_call)
