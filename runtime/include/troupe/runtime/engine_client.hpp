// An inference_client backed by troupe's own engine on the CPU: one engine (model, tokenizer,
// context with a paged KV cache, worker thread) per distinct model file, shared by every
// profile that names that file. Each engine batches its running requests continuously: every
// step new requests join (their prompts prefilled in bounded chunks), finished ones leave, and
// all running sequences decode together in one batched forward pass. KV blocks of finished
// requests stay cached, so a prompt that starts like an earlier one (an agent's next turn, a
// shared system prompt) computes only what is new.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime {

/// Settings of an engine client (the same for every model it loads).
struct engine_options {
  /// Model file of each inference profile, by profile name. A request's profile picks the
  /// model; a request whose profile is not listed uses `default_model`.
  std::map<std::string, std::string> profile_models;
  std::string default_model;        ///< model of unlisted profiles ("" = such requests fail)
  std::size_t queue_capacity = 64;  ///< waiting requests per model; more get errc::overloaded
  std::size_t max_sequences = 4;    ///< requests running (decoding together) per model
  std::size_t context_tokens = 0;   ///< KV cache tokens per sequence, at most n_ctx_train; 0 = min(n_ctx_train, 4096)
  std::size_t prefill_chunk_tokens = 64; ///< prompt tokens computed per step, over all requests
  std::size_t n_threads = 0;        ///< engine threads per model; 0 = hardware concurrency
  std::size_t retry_after_ms = 1000; ///< the retry hint given with errc::overloaded
  /// KV cache positions per block (the unit of prefix sharing and of eviction).
  std::size_t kv_block_tokens = 16;
  /// Memory of each model's KV cache in bytes; 0 = max_sequences * context_tokens positions'
  /// worth. Blocks no running request holds stay cached for prefix reuse until needed.
  std::size_t kv_budget_bytes = 0;
  std::string kv_type = "f16";      ///< element type of cached keys/values: "f16" or "f32"
  /// Sessions: a request whose prompt starts like an earlier one (the same agent's previous
  /// turn, a system prompt or transcript shared by several agents) reuses the cached KV
  /// blocks of that start and computes only the rest. false = every prompt computed whole.
  bool prefix_cache = true;
};

/// Counters of one client, summed over its models (for tests and diagnostics).
struct engine_stats {
  std::size_t steps = 0;              ///< batched forward passes run
  std::size_t max_batch_sequences = 0; ///< most sequences seen in one forward pass
  std::size_t completed = 0;          ///< requests that ended with a result
  std::size_t failed = 0;             ///< requests that ended with an error (cancel included)
  std::size_t prompt_tokens = 0;      ///< prompt tokens of admitted requests
  std::size_t prefix_hit_tokens = 0;  ///< of those, taken from the KV cache (not computed)
  std::size_t prompt_tokens_computed = 0; ///< of those, computed (prompt_tokens - prefix_hit_tokens)
  std::size_t kv_evictions = 0;       ///< cached KV blocks evicted to make room
  /// Running requests preempted because the KV budget could not hold every running
  /// sequence's next step: their blocks were freed and they were computed again later.
  std::size_t preemptions = 0;
  std::size_t recomputed_tokens = 0;  ///< tokens computed again after preemptions (less prefix hits)
};

/// The engine-backed client. `generate` never blocks: it queues the request (or fails it
/// with errc::overloaded when the model's queue is full) and returns; pieces and the outcome
/// arrive from the model's worker thread. Requests fail with errc::timeout past their
/// deadline, errc::cancelled after cancel(), errc::not_found for a profile without a model.
/// A prompt too long for the context loses its oldest tokens (after BOS) so that the latest
/// turns and room for the reply (max_tokens, at most a quarter of the context) fit.
/// Under a KV budget too small for every running request, the newest ones are preempted and
/// resumed later (same output, nothing streamed twice); a request that cannot fit even
/// alone (prompt + max_tokens, at most the context) fails at once with
/// errc::invalid_argument ("KV budget too small ...").
class engine_client : public inference_client {
public:
  ~engine_client() override = default;
  /// Stops every worker: running and waiting requests end with errc::stopped. Later
  /// generate() calls fail with errc::stopped. Idempotent; the destructor calls it too.
  virtual void shutdown() = 0;
  /// Counters so far.
  [[nodiscard]] virtual engine_stats stats() const = 0;
};

/// Loads each distinct model file named in `options` once and starts its worker. Errors
/// (errc::invalid_argument) name the file that failed to load and why.
[[nodiscard]] result<std::shared_ptr<engine_client>> make_engine_client(engine_options options);

} // namespace troupe::runtime
