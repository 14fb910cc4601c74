// `troupe run SCENARIO.yaml [--seed N] [--transcript FILE.jsonl] [--set key.path=value]...`:
// validate, spawn the agents, conduct the conversation, print it and a summary table.
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
#include <troupe/runtime/scenario_loader.hpp>
#include <troupe/runtime/transcript.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

struct run_args {
  std::string file;
  std::vector<std::string> sets;
  std::optional<std::uint64_t> seed;
  std::string transcript;
  std::int64_t turn_timeout_ms = 300000;
};

/// Agents that need a model engine: llm agents and routers that ask their model.
/// Returns the problem to report, or "" when no model is needed.
std::string model_problem(const runtime::scenario& s) {
  std::string out;
  std::set<std::string> seen;
  bool any = false;
  for (const auto& a : s.agents) {
    const bool needs = a.kind == runtime::agent_kind::llm ||
                       (a.kind == runtime::agent_kind::router && a.rules.empty() && a.fallback.empty());
    if (!needs) continue;
    any = true;
    const auto& p = s.profiles.at(a.profile);
    if (!seen.insert(p.model).second) continue;
    if (!std::filesystem::exists(p.model)) {
      out += fmt::format("troupe run: agent '{}' (profile '{}') needs the model file '{}', which does not exist\n"
                         "  hint: set TROUPE_MODEL=/path/to/model.gguf or --set profiles.{}.model=PATH\n",
                         a.name, p.name, p.model, p.name);
    }
  }
  if (!any) return {};
  out += "troupe run: no model engine is available in this build: llm agents cannot generate text "
         "(only scenarios of human and rule-based router agents can run)\n";
  return out;
}

void print_summary(const runtime::run_summary& r) {
  bool approx = false;
  fmt::print("\n== {}: {} ==\n", r.failed ? "failed" : "ended", r.reason);
  fmt::print("{:<16} {:>6} {:>8} {:>14} {:>10}\n", "agent", "turns", "tokens", "latency ms/turn", "tok/s");
  for (const auto& [name, t] : r.agents) {
    const double per_turn = t.turns ? t.latency_ms / static_cast<double>(t.turns) : 0.0;
    const double tps = t.latency_ms > 0 ? static_cast<double>(t.tokens) / (t.latency_ms / 1000.0) : 0.0;
    fmt::print("{:<16} {:>6} {:>8} {:>14.2f} {:>10.1f}\n", name, t.turns, t.tokens, per_turn, tps);
  }
  fmt::print("{:<16} {:>6} {:>8}   wall {:.3f} s\n", "total", r.turns, r.tokens, r.wall_s);
  (void)approx;
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
  copts.callbacks.on_turn_start = [](const std::string& speaker, std::size_t) {
    fmt::print("{}: ", speaker);
    std::fflush(stdout);
  };
  copts.callbacks.on_message = [&](const runtime::conducted_message& m) {
    if (m.turn == 0) fmt::print("{}: {}\n", m.speaker, m.text);
    else fmt::print("{}\n", m.text);
    std::fflush(stdout);
    if (transcript) transcript->write_message(m);
  };
  copts.callbacks.on_route = [&](const std::string& router, const std::string& choice) {
    if (transcript) transcript->write_route(router, choice);
  };
  const auto summary = runtime::conduct(*rt, *s, copts);
  if (summary.failed) fmt::print("\n");
  rt.reset();  // joins the actor system: every runtime event is written before run_end
  if (transcript) transcript->write_end(summary);
  print_summary(summary);
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
  cmd->footer("Exit codes: 0 ended normally, 1 an agent failed, 3 invalid scenario, 4 no model engine / model file.");
  cmd->callback([args, &code] { code = run(*args); });
}

} // namespace troupe::cli
