// `troupe run SCENARIO.yaml [--seed N] [--transcript FILE.jsonl] [--set key.path=value]...`:
// validate, spawn the agents, conduct the conversation, print it and a summary table.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <troupe/agents/scenario_agents.hpp>
#include <troupe/runtime/conductor.hpp>
#include <troupe/runtime/scenario_inference.hpp>
#include <troupe/runtime/scenario_loader.hpp>
#include <troupe/runtime/transcript.hpp>

#include "commands.hpp"
#include "printing_client.hpp"

namespace troupe::cli {

namespace {

struct run_args {
  std::string file;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  std::string transcript;
  std::int64_t turn_timeout_ms = 300000;
  std::size_t max_sequences = 4;
};

/// True for agents that need a model engine: llm agents and routers that ask their model.
bool needs_model(const runtime::scenario_agent& a) {
  return a.kind == runtime::agent_kind::llm ||
         (a.kind == runtime::agent_kind::router && a.rules.empty() && a.fallback.empty());
}

/// The missing model files of agents that need a model, as the text to report ("" = none).
std::string model_problem(const runtime::scenario& s) {
  std::string out;
  std::set<std::string> seen;
  for (const auto& a : s.agents) {
    if (!needs_model(a)) continue;
    const auto& p = s.profiles.at(a.profile);
    const std::string pool = !p.pool.empty() ? p.pool : s.pools.count("default") ? "default" : "";
    if (!pool.empty()) {  // the pool's local targets name their own models
      for (const auto& t : s.pools.at(pool).targets) {
        if (t.kind != "local" || !seen.insert(t.model).second || std::filesystem::exists(t.model)) continue;
        out += fmt::format("troupe run: target '{}' of pool '{}' needs the model file '{}', which does not exist\n"
                           "  hint: set TROUPE_MODEL=/path/to/model.gguf or --set pools.{}.targets.{}.model=PATH\n",
                           t.name, pool, t.model, pool, t.name);
      }
      continue;
    }
    if (!seen.insert(p.model).second) continue;
    if (!std::filesystem::exists(p.model)) {
      out += fmt::format("troupe run: agent '{}' (profile '{}') needs the model file '{}', which does not exist\n"
                         "  hint: set TROUPE_MODEL=/path/to/model.gguf or --set profiles.{}.model=PATH\n",
                         a.name, p.name, p.model, p.name);
    }
  }
  return out;
}

/// The profiles of agents that need a model (empty: none do).
std::set<std::string> model_profiles(const runtime::scenario& s) {
  std::set<std::string> out;
  for (const auto& a : s.agents)
    if (needs_model(a)) out.insert(a.profile);
  return out;
}

void print_summary(const runtime::run_summary& r) {
  fmt::print("\n== {}: {} ==\n", r.failed ? "failed" : "ended", r.reason);
  fmt::print("{:<16} {:>6} {:>8} {:>14} {:>10}\n", "agent", "turns", "tokens", "latency ms/turn", "tok/s");
  for (const auto& [name, t] : r.agents) {
    const double per_turn = t.turns ? t.latency_ms / static_cast<double>(t.turns) : 0.0;
    const double tps = t.latency_ms > 0 ? static_cast<double>(t.tokens) / (t.latency_ms / 1000.0) : 0.0;
    fmt::print("{:<16} {:>6} {:>8} {:>14.2f} {:>10.1f}\n", name, t.turns, t.tokens, per_turn, tps);
  }
  fmt::print("{:<16} {:>6} {:>8}   wall {:.3f} s\n", "total", r.turns, r.tokens, r.wall_s);
  if (r.tokens_approximate)
    fmt::print("(token counts of non-llm agents are approximate: words or bytes/4)\n");
}

/// Per-target counters of the declared pools (automatic per-model pools are not shown).
void print_pools(const runtime::scenario_inference& inference) {
  for (const auto& [name, pool] : inference.pools()) {
    if (name.rfind("auto-", 0) == 0) continue;
    const auto st = pool->stats();
    fmt::print("\n-- pool {}: {} completed, {} failed, {} failovers, {} grown, {} shrunk --\n", name,
               st.completed, st.failed, st.failovers, st.grown, st.shrunk);
    fmt::print("{:<16} {:<10} {:>7} {:>10} {:>10}\n", "target", "health", "weight", "assigned", "completed");
    for (const auto& t : st.targets)
      fmt::print("{:<16} {:<10} {:>7.2f} {:>10} {:>10}\n", t.name, runtime::to_string(t.health), t.weight,
                 t.assigned, t.completed);
  }
}

/// The engines' session counters: how much of the prompts the KV cache spared.
void print_engine(const runtime::engine_stats& e) {
  if (e.prompt_tokens == 0) return;
  fmt::print("engine: {} prompt tokens, {} reused from the KV cache ({:.1f}%), {} computed; {} batched "
             "steps (at most {} sequences in one); {} KV evictions, {} preemptions\n",
             e.prompt_tokens, e.prefix_hit_tokens,
             100.0 * static_cast<double>(e.prefix_hit_tokens) / static_cast<double>(e.prompt_tokens),
             e.prompt_tokens_computed, e.steps, e.max_batch_sequences, e.kv_evictions, e.preemptions);
}

exit_code run(const run_args& args) {
  runtime::load_options options;
  options.overrides = args.sets;
  auto s = runtime::load_scenario_file(args.file, options);
  if (!s) {
    fmt::print(stderr, "{}", runtime::to_string(s.error()));
    fmt::print(stderr, "{}: {} error{}; nothing was started\n", args.file, s.error().size(),
               s.error().size() == 1 ? "" : "s");
    return exit_code::invalid_input;
  }
  if (auto problem = model_problem(*s); !problem.empty()) {
    fmt::print(stderr, "{}", problem);
    return exit_code::unavailable;
  }
  std::set<std::string> llm_agents;
  for (const auto& a : s->agents)
    if (a.kind == runtime::agent_kind::llm) llm_agents.insert(a.name);
  // The inference pools: those declared under `pools:`, or one local engine per model file.
  std::shared_ptr<runtime::scenario_inference> engine;
  std::shared_ptr<printing_client> printer;
  if (auto profiles = model_profiles(*s); !profiles.empty()) {
    runtime::scenario_inference_options io;
    io.profiles = std::move(profiles);
    io.max_sequences = args.max_sequences;
    auto e = runtime::make_scenario_inference(*s, std::move(io));
    if (!e) {
      fmt::print(stderr, "troupe run: {}\n", e.error().message);
      return exit_code::unavailable;
    }
    engine = std::move(*e);
    printer = std::make_shared<printing_client>(engine, llm_agents);
  }
  std::unique_ptr<runtime::jsonl_transcript> transcript;
  if (!args.transcript.empty()) {
    auto t = runtime::jsonl_transcript::open(args.transcript);
    if (!t) {
      fmt::print(stderr, "troupe run: {}\n", t.error().message);
      return exit_code::failure;
    }
    transcript = std::move(*t);
  }
  const std::uint64_t seed = args.seed ? *args.seed : s->seed;
  if (transcript) transcript->write_start(*s, seed);

  auto rt = std::make_unique<runtime::runtime>();
  if (printer) rt->set_inference_client(printer);
  if (transcript) {
    auto* sink = transcript.get();
    rt->set_observer([sink](const runtime::runtime_event& e) { sink->write_event(e); });
  }
  auto human = agents::make_stdin_input([](std::string_view text) {
    fmt::print("{}", text);
    std::fflush(stdout);
  });
  if (auto ok = agents::spawn_scenario(*rt, *s, human, args.seed); !ok) {
    fmt::print(stderr, "troupe run: cannot start agent: {}\n", ok.error().message);
    return exit_code::failure;
  }
  fmt::print("== {} ({} flow, {} agents, seed {}) ==\n", s->name, runtime::to_string(s->flow.type),
             s->agents.size(), seed);
  runtime::conductor_options copts;
  copts.turn_timeout_ms = args.turn_timeout_ms;
  // llm speakers get their name printed when asked (their text streams as it is generated);
  // others (a human may be typing, with prompts of its own) get "name: text" when done.
  std::set<std::string> waiting;
  copts.callbacks.on_turn_start = [&](const std::string& speaker, std::size_t) {
    const auto* a = s->find_agent(speaker);
    if (!a || a->kind != runtime::agent_kind::llm) return;
    fmt::print("{}: ", speaker);
    std::fflush(stdout);
    waiting.insert(speaker);
  };
  copts.callbacks.on_message = [&](const runtime::conducted_message& m) {
    if (waiting.erase(m.speaker)) fmt::print("{}\n", printer && printer->take_streamed(m.speaker) ? "" : m.text);
    else fmt::print("{}: {}\n", m.speaker, m.text);
    std::fflush(stdout);
    if (transcript) transcript->write_message(m);
  };
  copts.callbacks.on_route = [&](const std::string& router, const std::string& choice) {
    if (transcript) transcript->write_route(router, choice);
  };
  const auto summary = runtime::conduct(*rt, *s, copts);
  if (engine && !s->pools.empty()) print_pools(*engine);
  if (summary.failed) fmt::print("\n");
  const auto engine_counters = engine ? engine->engine_totals() : runtime::engine_stats{};
  if (engine) engine->shutdown();  // generations still running end now, while their agents live
  rt.reset();  // joins the actor system: every runtime event is written before run_end
  if (transcript) transcript->write_end(summary);
  print_summary(summary);
  print_engine(engine_counters);
  if (summary.failed) {
    fmt::print(stderr, "troupe run: {}\n", summary.reason);
    return exit_code::failure;
  }
  return exit_code::ok;
}

} // namespace

void add_run_command(CLI::App& app, exit_code& code) {
  auto args = std::make_shared<run_args>();
  auto* cmd = app.add_subcommand("run", "Validate and run a scenario, printing the conversation as it happens");
  cmd->add_option("scenario", args->file, "Scenario YAML file")->required();
  cmd->add_option("--seed", args->seed, "Sampling seed for every profile without its own (default: the scenario's)");
  cmd->add_option("--transcript", args->transcript, "Write a JSONL transcript (one JSON object per message or event)");
  cmd->add_option("--set", args->sets, "Override before validation: key.path=value (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--turn-timeout-ms", args->turn_timeout_ms, "Longest wait for one reply")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(86400000)));
  cmd->add_option("--max-sequences", args->max_sequences,
                  "Generations each model runs at once (batched together) when the scenario declares no pools")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(256)));
  cmd->footer("Exit codes: 0 ended normally, 1 an agent failed, 3 invalid scenario, 4 a model file is missing or cannot be loaded.");
  cmd->callback([args, &code] { code = run(*args); });
}

} // namespace troupe::cli
