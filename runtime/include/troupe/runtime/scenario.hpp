// The scenario model: plain structs describing agents, topics, inference profiles, the flow
// of the conversation and when it ends. Built by the loader (scenario_loader.hpp), which
// validates everything before a scenario can start; nothing here knows about YAML.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/balancer.hpp"
#include "troupe/runtime/mailbox.hpp"

namespace troupe::runtime {

/// A position in a scenario file, 1-based; line 0 means "not from the file" (e.g. `--set`).
struct source_mark {
  int line = 0;   ///< 1-based line, 0 when unknown
  int column = 0; ///< 1-based column, 0 when unknown
};

/// Sampling and model settings an agent uses to generate text.
struct inference_profile {
  std::string name;                    ///< key under `profiles:`
  std::string model;                   ///< path of a GGUF model file (after ${VAR} substitution)
  double temperature = 0.7;            ///< 0 means greedy
  int top_k = 40;                      ///< 0 disables top-k
  double top_p = 0.95;                 ///< (0, 1]; 1 disables
  double min_p = 0.05;                 ///< [0, 1]; 0 disables
  double repeat_penalty = 1.1;         ///< > 0; 1 disables
  std::optional<std::uint64_t> seed;   ///< per-profile seed; else the scenario's seed
  int max_tokens = 256;                ///< most tokens generated per turn
  std::vector<std::string> stop;       ///< generation stops at any of these strings
  int context_tokens = 4096;           ///< context window requested from the engine
  std::string pool;                    ///< inference pool name; empty = the default pool
  source_mark at;                      ///< where the profile is defined
};

/// One target of an inference pool (`pools.NAME.targets[i]`).
struct pool_target_spec {
  std::string name;                ///< unique in the pool
  std::string kind = "local";      ///< local (troupe's engine) or openai (an HTTP endpoint)
  std::string node = "local";      ///< where it runs
  double weight = 1.0;             ///< relative capacity, > 0
  int min_count = 1;               ///< instances kept at least (`count` sets min and max)
  int max_count = 1;               ///< instances at most (elastic when > min_count)
  int capacity = 0;                ///< requests one instance holds at once; 0 = max_sequences (local) / 8
  // kind local
  std::string model;               ///< GGUF path (after ${VAR} substitution)
  int threads = 0;                 ///< engine threads; 0 = all cores
  int max_sequences = 4;           ///< sequences decoded together (batch limit)
  int prefill_chunk_tokens = 64;   ///< prompt tokens per step
  int queue_capacity = 64;         ///< the engine's own waiting queue
  int context_tokens = 0;          ///< KV tokens per sequence; 0 = from the profiles
  int kv_budget_mb = 0;            ///< KV cache budget in MiB (0 = max_sequences * context worth)
  int kv_block_tokens = 16;        ///< tokens per KV block (the unit of prefix reuse)
  std::string kv_type = "f16";     ///< KV cache element type: f16 or f32
  bool prefix_cache = true;        ///< reuse cached KV blocks of equal prompt prefixes
  // kind openai
  std::string url;                 ///< base URL, e.g. http://127.0.0.1:8080/v1
  std::string remote_model;        ///< `model` sent to the endpoint
  std::string api_key_env;         ///< environment variable with the API key ("" = none)
  source_mark at;                  ///< where the target is defined
};

/// An inference pool (`pools.NAME`): targets behind a load balancer.
struct pool_spec {
  std::string name;                          ///< key under `pools:`
  balance_policy policy = balance_policy::weighted_least_tokens;
  bool affinity = true;                      ///< keep an agent on its last target
  int queue_capacity = 256;                  ///< requests waiting for a free slot
  std::int64_t stall_timeout_ms = 60000;     ///< no progress this long: target down (0 = never)
  int max_attempts = 3;                      ///< tries per request
  int failures_before_down = 3;              ///< consecutive retryable errors that take a target down (0 = never)
  std::int64_t tick_ms = 500;                ///< elastic / health check period
  double high_utilisation = 0.8;             ///< elastic: grow above this (or with a queue)
  double low_utilisation = 0.25;             ///< elastic: shrink below this
  int grow_after_ticks = 3;                  ///< consecutive high ticks before growing
  int shrink_after_ticks = 10;               ///< consecutive low ticks before draining one
  std::vector<pool_target_spec> targets;     ///< at least one
  source_mark at;                            ///< where the pool is defined
};

/// A router rule: when the last message contains `contains` (case-insensitive), `next` speaks.
struct router_rule {
  std::string contains; ///< substring looked for in the last message
  std::string next;     ///< agent chosen when it matches
};

/// The built-in agent kinds a scenario may use (runtime::agent_spec::kind names them).
enum class agent_kind { llm, human, router };

/// One agent of a scenario.
struct scenario_agent {
  std::string name;                       ///< unique, [A-Za-z0-9_-]+
  agent_kind kind = agent_kind::llm;      ///< what produces its messages
  std::string role;                       ///< the system prompt / role description
  std::string prompt_template;            ///< optional; placeholders {name} {role} {history} {message}
  std::string profile;                    ///< inference profile name (llm; router without rules)
  int memory_tokens = 2048;               ///< token budget for the conversation memory
  std::vector<std::string> subscribe;     ///< topic patterns (syntax in topic.hpp)
  std::string publish;                    ///< topic its messages go to (free_form); empty = flow topic
  mailbox_options mailbox{64, overflow_policy::drop_oldest}; ///< bounded inbox and overflow policy
  restart_policy supervision = restart_policy::restart;    ///< what the supervisor does on failure
  int max_restarts = 3;                   ///< restarts allowed, then the agent stops
  // kind-specific options
  std::vector<std::string> script;        ///< human: scripted answers, in order; empty = stdin
  std::vector<router_rule> rules;         ///< router: first matching rule wins
  std::string fallback;                   ///< router: chosen when no rule matches (empty = next in order)
  source_mark at;                         ///< where the agent is defined
};

/// A declared topic.
struct topic_spec {
  std::string name;        ///< dot-separated segments, e.g. "debate.floor"
  std::string description; ///< free text
  source_mark at;          ///< where the topic is defined
};

/// How the conversation proceeds.
enum class flow_type { round_robin, broadcast, selector, handoff, pipeline, free_form };

/// The flow: who speaks when, and how it starts.
struct flow_spec {
  flow_type type = flow_type::round_robin;
  std::vector<std::string> order;  ///< speakers (round_robin, broadcast, selector candidates); empty = all non-router agents
  std::string router;              ///< selector: the router agent that picks the next speaker
  std::string start;               ///< handoff/selector: the first speaker (default: first in order)
  std::vector<std::string> stages; ///< pipeline: agents in sequence
  int rounds = 1;                  ///< pipeline: how many passes over the stages
  std::string fallback;            ///< handoff: who speaks when a reply names nobody (empty = end)
  std::string topic;               ///< broadcast/free_form: the topic messages are published on
  std::string opening;             ///< the opening message text
  std::string opening_from = "user"; ///< who the opening message is from
  source_mark at;                  ///< where `flow:` is
};

/// A termination condition tree: leaves test one measure, `any`/`all` combine children.
struct termination_spec {
  enum class kind { any, all, max_turns, max_tokens, stop_phrase, timeout };
  kind type = kind::any;
  std::int64_t limit = 0;                 ///< max_turns / max_tokens
  double timeout_s = 0;                   ///< timeout
  std::string phrase;                     ///< stop_phrase (case-insensitive substring)
  std::vector<termination_spec> children; ///< any / all
  source_mark at;                         ///< where the condition is written
};

/// A whole scenario, validated by the loader.
struct scenario {
  std::string name;                                   ///< required
  std::string description;                            ///< free text
  std::uint64_t seed = 0;                             ///< default seed for sampling
  std::string file;                                   ///< file it was loaded from (for messages)
  std::vector<scenario_agent> agents;                     ///< in declaration order
  std::vector<topic_spec> topics;                     ///< declared topics
  std::map<std::string, inference_profile> profiles;  ///< by name
  /// Inference pools by name. A profile's `pool` names one; a profile without `pool` uses the
  /// pool `default` when declared, else one local engine per model file.
  std::map<std::string, pool_spec> pools;
  flow_spec flow;                                     ///< how the conversation proceeds
  std::optional<termination_spec> termination;        ///< when it ends (absent: pipeline ends by itself)

  /// The agent named `name`, or nullptr.
  [[nodiscard]] const scenario_agent* find_agent(std::string_view name) const;
  /// The speakers of a round_robin/broadcast/selector flow: flow.order or all non-router agents.
  [[nodiscard]] std::vector<std::string> speakers() const;
};

/// Text names of the enums, as written in YAML.
[[nodiscard]] std::string_view to_string(agent_kind k);
[[nodiscard]] std::string_view to_string(flow_type t);

} // namespace troupe::runtime
