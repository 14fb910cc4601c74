// The built-in agent kinds: llm, human, router.
//
// Protocol shared by the kinds: a `request` is "your turn" and is answered by one `reply`
// (or a reply with metadata "error"); `message`/`event` envelopes (direct or topic) are
// context only: they go into the agent's history without producing an answer.
#pragma once

#include <memory>

#include "troupe/agents/input_source.hpp"
#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/kind_registry.hpp"

namespace troupe::agents {

/// `llm`: history + role -> generation request -> reply. Options (agent_spec::params):
/// "template" system prompt with {name} and {role} (default: "{role}"), sampling "temperature",
/// "top_k", "top_p", "min_p", "seed", "max_tokens", "stop" ('|'-separated), and
/// "timeout_ms" (generation deadline). Without an inference client the reply is an error
/// "no model engine available".
runtime::agent_factory llm_factory();

/// `human`: answers each request with a line from `input` (read off the actor threads).
runtime::agent_factory human_factory(std::shared_ptr<input_source> input);

/// `router`: answers each request with the name of the next speaker (reply content, also
/// metadata "next"). Options: "mode" = round_robin | keyword | model; "candidates" =
/// comma-separated agent names (a request's metadata "candidates" overrides); "keywords" =
/// "word:agent,word:agent" (first keyword found in the request text wins, else "default" or
/// round robin); in "model" mode the router asks its model and takes the first candidate
/// named in the answer (falling back to round robin, noted in the transcript).
runtime::agent_factory router_factory();

/// What the built-in kinds need from the host.
struct builtin_options {
  std::shared_ptr<input_source> human_input; ///< null: stdin without display
};

/// Registers "llm", "human" and "router" (replacing existing entries of those names).
void register_builtin_kinds(runtime::kind_registry& kinds, builtin_options options = {});

} // namespace troupe::agents
