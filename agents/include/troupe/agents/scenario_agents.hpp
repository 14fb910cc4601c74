// From a validated scenario to spawned agents: specs in the built-in kinds' conventions and
// an input source that plays scripted humans.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "troupe/agents/input_source.hpp"
#include "troupe/runtime/runtime.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::agents {

/// The runtime spec of each scenario agent, in order. llm/router sampling options come from
/// the agent's inference profile; the seed is the profile's, else `seed` when given, else the
/// scenario's. Router rules become keyword options, its fallback the default, and a router
/// with neither asks its model.
[[nodiscard]] std::vector<runtime::agent_spec> agent_specs(const runtime::scenario& s,
                                                           std::optional<std::uint64_t> seed = {});

/// Answers each human agent that has a `script` with its lines in order (then `errc::io`,
/// "no more scripted answers"); agents without a script go to `other` (null: `errc::io`).
/// `show` goes to `other` as well.
[[nodiscard]] std::shared_ptr<input_source> make_scripted_input(const runtime::scenario& s,
                                                                std::shared_ptr<input_source> other);

/// Registers the built-in kinds on `rt` (humans answer from `human_input`) and spawns every
/// agent of `s`. Stops at the first spawn error.
runtime::result<void> spawn_scenario(runtime::runtime& rt, const runtime::scenario& s,
                                     std::shared_ptr<input_source> human_input,
                                     std::optional<std::uint64_t> seed = {});

} // namespace troupe::agents
