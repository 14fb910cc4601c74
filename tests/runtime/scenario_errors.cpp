// Every malformed scenario under tests/data/scenarios/bad/ gets its specific error, at its
// position, with a hint; and every problem in a file is reported, not only the first.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <troupe/runtime/scenario_loader.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::runtime;

namespace {

struct expectation {
  const char* file;
  int line;
  int column;
  const char* message; ///< must be contained in the diagnostic's message
  const char* hint;    ///< must be contained in the hint
};

// One row per bad file: the first diagnostic it must produce.
const expectation cases[] = {
    {"unknown_key.yaml", 5, 5, "unknown key 'temprature' in profile 'p'", "did you mean 'temperature'?"},
    {"wrong_type.yaml", 9, 14, "'max_turns' in 'termination' must be an integer, got 'four'", "max_turns:"},
    {"missing_name.yaml", 1, 1, "missing required key 'name' in the scenario", "add 'name: ...'"},
    {"top_p_range.yaml", 5, 12, "'top_p' in profile 'p' is out of range: got 1.5", "allowed: (0, 1]"},
    {"unknown_profile.yaml", 8, 14, "agent 'a' uses unknown profile 'fats'", "declared profiles: fast"},
    {"unknown_topic.yaml", 7, 16, "agent 'a' subscribes to 'news.weather', which matches no declared topic",
     "declared topics: news.sports"},
    {"selector_without_router.yaml", 6, 3, "selector flow needs a router", "kind: router"},
    {"selector_router_not_router.yaml", 7, 11, "'flow.router' agent 'a' is human, not a router",
     "set its kind: router"},
    {"pipeline_unknown_stage.yaml", 7, 21, "pipeline stage names unknown agent 'reviewer'",
     "declared agents: drafter, editor"},
    {"handoff_single_agent.yaml", 5, 3, "handoff flow needs at least two speakers, has 1", "another agent"},
    {"env_unset.yaml", 4, 12, "environment variable 'TROUPE_TEST_SURELY_UNSET_VAR' is not set",
     "${TROUPE_TEST_SURELY_UNSET_VAR:-value}"},
    {"syntax_error.yaml", 5, 4, "YAML syntax error", "indentation"},
    {"duplicate_agent.yaml", 4, 12, "duplicate agent name 'a'", "the first 'a' is at line 3"},
    {"unbounded_termination.yaml", 7, 3, "termination may never happen", "max_turns"},
    {"bad_flow_type.yaml", 5, 9, "'type' in 'flow' must be one of round_robin, broadcast", "did you mean 'round_robin'?"},
    {"script_on_llm.yaml", 8, 5, "'script' applies only to human agents; agent 'a' is llm", "kind: human"},
    {"agents_not_list.yaml", 3, 3, "'agents' must be a list, got a map", "'- item'"},
    {"free_form_unheard.yaml", 7, 10, "no agent subscribes to 'chat.general'", "subscribe"},
    {"missing_termination.yaml", 1, 1, "round_robin flow needs a 'termination' section", "max_turns"},
    {"unused_flow_key.yaml", 7, 3, "'stages' is not used by round_robin flows", "flow.type"},
    {"router_rule_unknown.yaml", 8, 33, "rule #1 of agent 'r' names unknown agent 'accountant'", "declared agents"},
    {"alias_bomb.yaml", 1, 35, "document expands to more than 100000 nodes", "aliases"},
    {"empty.yaml", 1, 1, "the scenario file is empty", "debate.yaml"},
    {"many_errors.yaml", 2, 7, "'seed' in the scenario is out of range: got -1", "allowed: 0 to"},
};

load_result load_bad(const std::string& name) {
  load_options o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return load_scenario_file(troupe::test::source_dir() / "tests/data/scenarios/bad" / name, o);
}

} // namespace

TEST_CASE("each bad scenario reports its specific error at its position") {
  for (const auto& c : cases) {
    CAPTURE(c.file);
    auto r = load_bad(c.file);
    REQUIRE_FALSE(r.has_value());
    const auto& d = r.error().front();
    INFO(to_string(r.error()));
    CHECK(d.file.find(c.file) != std::string::npos);
    CHECK(d.line == c.line);
    CHECK(d.column == c.column);
    CHECK(d.message.find(c.message) != std::string::npos);
    CHECK(d.hint.find(c.hint) != std::string::npos);
    // The rendered form starts with file:line:column.
    CHECK(to_string(d).find(fmt::format("{}:{}:{}: error: ", c.file, c.line, c.column)) !=
          std::string::npos);
  }
}

TEST_CASE("all errors of a file are reported, in file order") {
  auto r = load_bad("many_errors.yaml");
  REQUIRE_FALSE(r);
  const auto& e = r.error();
  INFO(to_string(e));
  REQUIRE(e.size() == 7);
  CHECK(e[1].message == "'max_tokens' in profile 'p' is out of range: got 0");
  CHECK(e[2].message.find("'kind' in agent 'a' must be one of llm, human, router; got 'robot'") == 0);
  CHECK(e[2].line == 9);
  CHECK(e[3].message == "'capacity' in the mailbox of agent 'b' is out of range: got 0");
  CHECK(e[4].message.find("got 'drop_all'") != std::string::npos);
  CHECK(e[5].message == "'flow.order' names unknown agent 'c'");
  CHECK(e[5].hint == "did you mean 'a'?");
  CHECK(e[6].line == 18);
  for (std::size_t i = 1; i < e.size(); ++i) CHECK(e[i - 1].line <= e[i].line);
}

TEST_CASE("every bad file in the directory has a row above") {
  std::size_t files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(troupe::test::source_dir() / "tests/data/scenarios/bad")) {
    ++files;
    bool listed = false;
    for (const auto& c : cases) listed = listed || entry.path().filename() == c.file;
    CHECK_MESSAGE(listed, entry.path().filename().string());
  }
  CHECK(files >= 15);
}

TEST_CASE("a file that does not exist is an error, not an exception") {
  auto r = load_bad("no_such_file.yaml");
  REQUIRE_FALSE(r);
  CHECK(r.error().front().message == "cannot open the scenario file");
}
