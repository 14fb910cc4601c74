// Loading the shipped scenarios, overrides and ${VAR} substitution.
#include <doctest/doctest.h>

#include <troupe/runtime/scenario_loader.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::runtime;

namespace {

load_options no_env(std::vector<std::string> sets = {}) {
  load_options o;
  o.overrides = std::move(sets);
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

std::string errors(const load_result& r) { return r ? std::string{} : to_string(r.error()); }

} // namespace

TEST_CASE("every shipped scenario loads") {
  for (const char* f : {"debate.yaml", "brainstorm.yaml", "support_handoff.yaml",
                        "editorial_pipeline.yaml"}) {
    CAPTURE(f);
    auto r = load_scenario_file(troupe::test::source_dir() / "configs/scenarios" / f, no_env());
    INFO(errors(r));
    CHECK(r.has_value());
  }
}

TEST_CASE("debate.yaml decodes into the model") {
  auto r = load_scenario_file(troupe::test::source_dir() / "configs/scenarios/debate.yaml", no_env());
  REQUIRE_MESSAGE(r, errors(r));
  const auto& s = *r;
  CHECK(s.name == "debate");
  CHECK(s.seed == 42);
  REQUIRE(s.agents.size() == 3);
  CHECK(s.agents[0].name == "pro");
  CHECK(s.agents[0].kind == agent_kind::llm);
  CHECK(s.agents[0].at.line == 30);  // "- name: pro" in configs/scenarios/debate.yaml
  CHECK(s.agents[0].at.column == 11);
  CHECK(s.agents[2].supervision == restart_policy::restart);
  CHECK(s.agents[2].max_restarts == 2);
  CHECK(s.profiles.at("debater").model == "models/troupe-tiny-en.gguf");
  CHECK(s.profiles.at("debater").stop == std::vector<std::string>{"\n\n"});
  CHECK(s.profiles.at("judge").temperature == 0.0);
  CHECK(s.flow.type == flow_type::round_robin);
  CHECK(s.speakers() == std::vector<std::string>{"pro", "con", "judge"});
  REQUIRE(s.termination);
  CHECK(s.termination->type == termination_spec::kind::any);
  REQUIRE(s.termination->children.size() == 3);
  CHECK(s.termination->children[0].phrase == "VERDICT:");
  CHECK(s.termination->children[1].limit == 9);
  CHECK(s.termination->children[2].timeout_s == 600.0);
}

TEST_CASE("environment variables are substituted, with defaults") {
  load_options o = no_env();
  o.env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "TROUPE_MODEL") return std::string{"/models/x.gguf"};
    return std::nullopt;
  };
  auto r = load_scenario_file(troupe::test::source_dir() / "configs/scenarios/debate.yaml", o);
  REQUIRE_MESSAGE(r, errors(r));
  CHECK(r->profiles.at("judge").model == "/models/x.gguf");
}

TEST_CASE("overrides address agents by name or index and lists by name with dots") {
  auto r = load_scenario_file(
      troupe::test::source_dir() / "configs/scenarios/debate.yaml",
      no_env({"agents.con.role=Disagree politely.", "agents.0.memory_tokens=512",
              "termination.any.1.max_turns=4", "topics.debate.floor.description=the floor",
              "profiles.debater.stop=[END, STOP]", "seed=9", "agents.pro.role=a=b: c"}));
  REQUIRE_MESSAGE(r, errors(r));
  CHECK(r->agents[1].role == "Disagree politely.");
  CHECK(r->agents[0].memory_tokens == 512);
  CHECK(r->agents[0].role == "a=b: c");
  CHECK(r->termination->children[1].limit == 4);
  CHECK(r->topics[0].description == "the floor");
  CHECK(r->profiles.at("debater").stop == std::vector<std::string>{"END", "STOP"});
  CHECK(r->seed == 9);
}

TEST_CASE("override values are validated and errors name the override") {
  auto r = load_scenario_file(troupe::test::source_dir() / "configs/scenarios/debate.yaml",
                              no_env({"termination.any.1.max_turns=four", "agents.bob.role=x",
                                      "nokey"}));
  REQUIRE_FALSE(r);
  const auto text = to_string(r.error());
  INFO(text);
  CHECK(text.find("--set termination.any.1.max_turns=four: error: 'max_turns' in 'termination' "
                  "must be an integer, got 'four'") != std::string::npos);
  CHECK(text.find("--set agents.bob.role=x: error: 'agents' has no entry named or numbered 'bob'") !=
        std::string::npos);
  CHECK(text.find("--set nokey: error: an override needs the form key.path=value") !=
        std::string::npos);
}

TEST_CASE("$$ escapes a dollar and a set variable wins over its default") {
  const std::string yaml = R"(name: "cost $$5 ${WHO:-nobody} ${HOME_X}"
agents:
  - {name: a, kind: human, script: [hi]}
flow: {type: round_robin}
termination: {max_turns: 1}
)";
  load_options o = no_env();
  o.env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "HOME_X") return std::string{"/h"};
    return std::nullopt;
  };
  auto r = load_scenario_text(yaml, "t.yaml", o);
  REQUIRE_MESSAGE(r, errors(r));
  CHECK(r->name == "cost $5 nobody /h");
}
