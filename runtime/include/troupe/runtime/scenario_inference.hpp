// Inference for a scenario: builds the inference pools its profiles use (declared under
// `pools:`, or one single-target local pool per model file) and routes each request to the
// pool of its profile.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/engine_client.hpp"
#include "troupe/runtime/pool.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// How to build a scenario's inference.
struct scenario_inference_options {
  /// Profiles that need a model (e.g. those of llm agents); empty = every profile.
  std::set<std::string> profiles;
  /// Batch limit of the automatic per-model pools (profiles without `pool`).
  std::size_t max_sequences = 4;
  /// Target factories by kind, added to the built-in `local` (e.g. `openai`).
  std::map<std::string, target_factory> factories;
};

/// The pool options of a declared pool. Local targets without `context_tokens` get
/// `context_tokens` (the longest context of the profiles using the pool).
[[nodiscard]] pool_options pool_options_for(const pool_spec& spec, std::size_t context_tokens);

/// An inference client over several pools, choosing by the request's profile.
class scenario_inference : public inference_client {
public:
  /// Ends every pool (see inference_pool::shutdown).
  virtual void shutdown() = 0;
  /// The pools by name (automatic ones are named `auto-N`).
  [[nodiscard]] virtual std::map<std::string, std::shared_ptr<inference_pool>> pools() const = 0;
  /// The counters of every troupe engine the pools started (local targets, elastic ones
  /// included), summed; those already stopped count up to their last reading. Zero when the
  /// scenario uses no local target or a caller-supplied `local` factory.
  [[nodiscard]] virtual engine_stats engine_totals() const = 0;
};

/// Builds the pools the needed profiles use: a profile's `pool`; else the pool `default`
/// when declared; else a pool with one local target for the profile's model (one per model
/// file, shared by its profiles; no stall timeout, as before pools existed). Errors name the
/// pool or target that failed.
[[nodiscard]] result<std::shared_ptr<scenario_inference>> make_scenario_inference(
    const scenario& s, scenario_inference_options options = {});

} // namespace troupe::runtime
