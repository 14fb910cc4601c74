// The inference pool: several inference targets behind one inference_client. Each target is
// an inference actor (a CAF actor owning one client: a local engine on a CPU worker group, an
// OpenAI-compatible endpoint, later a remote node's actor) with a name, a node, a weight and a
// health. The pool admits requests into a bounded queue, picks a target with a balancing
// policy (balancer.hpp) and the agent's session affinity, re-runs a request on another target
// when its target dies or stalls, and grows or shrinks elastic target groups by load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/balancer.hpp"
#include "troupe/runtime/engine_client.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime {

/// One target declaration: `count` identical instances, or an elastic group of `min_count`
/// to `max_count` instances. Instances are named `name`, `name.2`, `name.3`, ...
struct target_options {
  std::string kind = "local";  ///< factory that builds it (pool_options::factories)
  std::string name;            ///< unique in the pool
  std::string node = "local";  ///< node the target runs on (for placement and messages)
  double weight = 1.0;         ///< relative capacity (> 0); the balancer divides load by it
  std::size_t min_count = 1;   ///< instances kept at least (elastic when < max_count)
  std::size_t max_count = 1;   ///< instances at most
  std::size_t capacity = 4;    ///< requests one instance holds at once; the rest wait in the pool
  std::size_t slots = 0;       ///< requests one instance runs at once (0 = capacity); for the balancer
  engine_options engine;       ///< kind local: engine settings (model in engine.default_model)
  std::string url;             ///< kind openai: base URL of the endpoint
  std::string model;           ///< kind openai: model name sent to the endpoint
  std::string api_key_env;     ///< kind openai: environment variable holding the API key
};

/// Builds one instance of a target (may block, e.g. to load a model; the pool calls it off
/// its actor's thread). The returned client must honour the inference_client contract.
using target_factory = std::function<result<std::shared_ptr<inference_client>>(const target_options&)>;

/// The built-in factory for kind `local`: make_engine_client(options.engine).
[[nodiscard]] target_factory local_target_factory();
/// The built-in factory for kind `openai`: make_openai_client with `url`, `model`,
/// `api_key_env`, and `slots` (else `capacity`) connections.
[[nodiscard]] target_factory openai_target_factory();

/// When elastic groups grow and shrink. Each tick compares the group's utilisation
/// (outstanding / capacity of its up instances) and the pool's queue with the thresholds.
struct elastic_options {
  std::int64_t tick_ms = 500;      ///< how often the pool looks (also for stalls and deadlines)
  double high_utilisation = 0.8;   ///< at or above (or any request queued): a high tick
  double low_utilisation = 0.25;   ///< at or below with nothing queued: a low tick
  std::size_t grow_after_ticks = 3;   ///< consecutive high ticks before one instance is added
  std::size_t shrink_after_ticks = 10; ///< consecutive low ticks before one instance drains
};

/// Settings of a pool.
struct pool_options {
  std::vector<target_options> targets;  ///< at least one
  balance_policy policy = balance_policy::weighted_least_tokens;
  bool affinity = true;                 ///< keep an agent on the target of its last request
  /// Requests waiting for a free target slot. Pushed by generate(), popped by the pool actor
  /// when a slot frees; when full, generate() fails with errc::overloaded and a retry hint.
  std::size_t queue_capacity = 256;
  std::size_t retry_after_ms = 500;     ///< the hint given with errc::overloaded
  std::int64_t stall_timeout_ms = 60000; ///< no piece for this long: the target is down (0 = never)
  std::size_t max_attempts = 3;         ///< tries per request (first run + failovers)
  /// Consecutive retryable errors (unavailable, io, ...) after which a target counts as down
  /// (its requests move, its group starts a replacement); 0 = never.
  std::size_t failures_before_down = 3;
  elastic_options elastic;
  /// Factories by kind; `local` and `openai` are added when absent (a remote node's kind, or
  /// a test double, plugs in here).
  std::map<std::string, target_factory> factories;
  std::uint64_t seed = 0;               ///< seeds the random policies
  std::size_t scheduler_threads = 1;    ///< threads of the pool's actor system
  /// Test mode: the pool's actors run only inside run_pending/advance_time_ms (virtual time).
  bool deterministic = false;
};

/// What the pool reports about one target instance.
struct target_status {
  std::string name;
  std::string node;
  std::string kind;
  double weight = 1.0;
  target_health health = target_health::up;
  std::size_t outstanding = 0;        ///< requests running on it
  std::size_t outstanding_tokens = 0; ///< their estimated tokens still to do
  std::size_t capacity = 0;
  std::size_t completed = 0;          ///< requests it finished (result or final error)
  std::size_t assigned = 0;           ///< attempts it was given
};

/// Counters of a pool.
struct pool_stats {
  std::size_t completed = 0;   ///< requests that ended with a result
  std::size_t failed = 0;      ///< requests that ended with an error (cancel, overload included)
  std::size_t overloaded = 0;  ///< refused because the queue was full
  std::size_t cancelled = 0;
  std::size_t failovers = 0;   ///< attempts re-run on another target
  std::size_t queued = 0;      ///< waiting now
  std::size_t grown = 0;       ///< elastic instances added
  std::size_t shrunk = 0;      ///< elastic instances drained and stopped
  std::vector<target_status> targets; ///< every live instance, in creation order
};

/// The pool. generate() never blocks. Streaming and failover: `on_done` runs exactly once,
/// with the outcome of one attempt; pieces come in order from the pool's actor thread. When a
/// request fails over, the new attempt's pieces are held back until its text has passed what
/// was already streamed (and streamed from there); if it diverges from that text, no further
/// pieces are streamed and the result's text (the new attempt's, authoritative) is all there
/// is. Request ids stay the same on every attempt.
class inference_pool : public inference_client {
public:
  ~inference_pool() override = default;
  /// Ends every request (errc::stopped) and stops every target; later generate() calls fail
  /// with errc::stopped. Idempotent; the destructor calls it.
  virtual void shutdown() = 0;
  /// A copy of the counters and target states (as of the pool actor's last step).
  [[nodiscard]] virtual pool_stats stats() const = 0;
  /// Ends a target instance's actor abruptly (fault injection and operations): the pool sees
  /// it die and re-runs its requests elsewhere. errc::not_found for an unknown name.
  virtual result<void> kill_target(std::string_view name) = 0;
  /// Marks an instance draining: it finishes its requests, takes no new ones, then stops.
  virtual result<void> drain_target(std::string_view name) = 0;
  /// Deterministic mode: runs every ready message; returns how many ran.
  virtual std::size_t run_pending() = 0;
  /// Deterministic mode: advances virtual time, fires due timers and runs what follows.
  virtual std::size_t advance_time_ms(std::int64_t ms) = 0;
};

/// Builds the pool and the starting instances of every target (min_count each; this may load
/// models). Errors: errc::invalid_argument (no targets, a duplicate name, a bad weight or
/// count), errc::unknown_kind (no factory), or the first factory error.
[[nodiscard]] result<std::shared_ptr<inference_pool>> make_inference_pool(pool_options options);

} // namespace troupe::runtime
