// `troupe validate` and `troupe run` end to end: the real binary on scenarios whose agents
// need no model (scripted humans, rule routers), and on llm scenarios without a model.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/jsonl.hpp"
#include "support/temp_dir.hpp"

namespace {

struct outcome {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fmt_cmd(const std::string& env, const char* bin, const std::string& args,
                    const troupe::test::temp_dir& dir, const std::string& input) {
  std::string in = "/dev/null";
  if (!input.empty()) {
    std::ofstream(dir / "in") << input;
    in = (dir / "in").string();
  }
  return fmt::format("{} '{}' {} <'{}' >'{}' 2>'{}'", env, bin, args, in, (dir / "out").string(),
                     (dir / "err").string());
}

/// Runs `troupe ARGS` with `input` (or nothing) on stdin; captures stdout and stderr.
outcome run_troupe(const std::string& args, const std::string& env = {}, const std::string& input = {}) {
  troupe::test::temp_dir dir("troupe-cli");
  const char* bin = std::getenv("TROUPE_BIN");
  REQUIRE(bin != nullptr);
  const auto cmd = fmt_cmd(env, bin, args, dir, input);
  const int status = std::system(cmd.c_str());
  outcome o;
  o.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = slurp(dir / "out");
  o.err = slurp(dir / "err");
  return o;
}

std::string good(const char* name) {
  return (troupe::test::source_dir() / "tests/data/scenarios/good" / name).string();
}


/// Senders of the message lines of a transcript, in order.
std::vector<std::string> senders(const std::vector<nlohmann::json>& lines) {
  std::vector<std::string> out;
  for (const auto& j : lines)
    if (j["type"] == "message") out.push_back(j["sender"]);
  return out;
}

const nlohmann::json& last(const std::vector<nlohmann::json>& lines) {
  REQUIRE_FALSE(lines.empty());
  return lines.back();
}

} // namespace

TEST_CASE("validate: a good scenario prints one OK line and exits 0") {
  const auto o = run_troupe("validate " + (troupe::test::source_dir() / "configs/scenarios/debate.yaml").string());
  CHECK(o.rc == 0);
  CHECK(o.out.find("OK ") == 0);
  CHECK(o.out.find("scenario 'debate', 3 agents, round_robin flow\n") != std::string::npos);
  CHECK(std::count(o.out.begin(), o.out.end(), '\n') == 1);
  CHECK(o.err.empty());
}

TEST_CASE("validate: a bad scenario exits 3 with every error on stderr") {
  const auto file = (troupe::test::source_dir() / "tests/data/scenarios/bad/many_errors.yaml").string();
  const auto o = run_troupe("validate " + file);
  CHECK(o.rc == 3);
  CHECK(o.out.empty());
  CHECK(o.err.find("many_errors.yaml:9:11: error: 'kind' in agent 'a' must be one of llm, human, router; got 'robot'") !=
        std::string::npos);
  CHECK(o.err.find("many_errors.yaml:15:14: error: 'flow.order' names unknown agent 'c'\n  hint: did you mean 'a'?") !=
        std::string::npos);
  CHECK(o.err.find("many_errors.yaml: 7 errors") != std::string::npos);
}

TEST_CASE("validate: --set overrides are applied before validation") {
  const auto file = (troupe::test::source_dir() / "tests/data/scenarios/bad/wrong_type.yaml").string();
  CHECK(run_troupe("validate " + file).rc == 3);
  CHECK(run_troupe("validate " + file + " --set termination.max_turns=4").rc == 0);
  const auto o = run_troupe("validate " + file + " --set termination.max_turns=4 --set agents.zed.role=x");
  CHECK(o.rc == 3);
  CHECK(o.err.find("--set agents.zed.role=x: error: 'agents' has no entry named or numbered 'zed'") !=
        std::string::npos);
}

TEST_CASE("--help works for both commands") {
  for (const char* c : {"validate --help", "run --help"}) {
    CAPTURE(c);
    const auto o = run_troupe(c);
    CHECK(o.rc == 0);
    CHECK(o.out.find("--set") != std::string::npos);
  }
  CHECK(run_troupe("run --help").out.find("--transcript") != std::string::npos);
  CHECK(run_troupe("run").rc == 2);  // missing scenario: usage error
}

TEST_CASE("run: round_robin with scripted humans ends on the stop phrase") {
  troupe::test::temp_dir dir;
  const auto o = run_troupe(fmt::format("run {} --transcript '{}'", good("round_robin.yaml"), (dir / "t.jsonl").string()));
  INFO(o.out << o.err);
  REQUIRE(o.rc == 0);
  CHECK(o.out.find("user: What do we drink?\nann: I propose tea.\nbob: Coffee is better.\ncat: Either works.\n"
                   "ann: Green tea then.\nbob: Fine, I AGREE.\n") != std::string::npos);
  CHECK(o.out.find("== ended: stop phrase \"agree\" said by bob ==") != std::string::npos);
  CHECK(o.out.find("total") != std::string::npos);
  const auto lines = troupe::test::read_jsonl(dir / "t.jsonl");
  CHECK(lines.front()["type"] == "run_start");
  CHECK(lines.front()["seed"] == 1);
  CHECK(senders(lines) == std::vector<std::string>{"user", "ann", "bob", "cat", "ann", "bob"});
  const auto& end = last(lines);
  CHECK(end["type"] == "run_end");
  CHECK(end["turns"] == 5);
  CHECK(end["failed"] == false);
  CHECK(end["agents"]["ann"]["turns"] == 2);
  for (const auto& j : lines) {
    if (j["type"] != "message" || j["turn"] == 0) continue;
    CHECK(j["recipients"].size() == 2);  // the two others hear it
    CHECK_FALSE(j["id"].get<std::string>().empty());
  }
}

TEST_CASE("run: the other flows drive agents in their order") {
  struct row {
    const char* file;
    std::vector<std::string> senders;
    const char* reason;
  };
  const row rows[] = {
      {"selector.yaml", {"lead", "cfo", "lead", "designer"}, "max_turns reached (4)"},
      {"handoff.yaml", {"user", "triage", "billing", "tech"}, "tech handed off to nobody"},
      {"pipeline.yaml", {"user", "drafter", "reviewer", "editor"}, "pipeline complete (3 stages)"},
      {"broadcast.yaml", {"user", "a", "b", "c", "a", "b"}, "max_turns reached (5)"},
      {"free_form.yaml", {"user", "reporter", "mayor", "logger"}, "no agent has anything to react to"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.file);
    troupe::test::temp_dir dir;
    const auto o = run_troupe(fmt::format("run {} --transcript '{}'", good(r.file), (dir / "t.jsonl").string()));
    INFO(o.out << o.err);
    CHECK(o.rc == 0);
    const auto lines = troupe::test::read_jsonl(dir / "t.jsonl");
    CHECK(senders(lines) == r.senders);
    CHECK(last(lines)["reason"] == r.reason);
  }
}

TEST_CASE("run: the selector's routing decisions are in the transcript") {
  troupe::test::temp_dir dir;
  const auto o = run_troupe(fmt::format("run {} --transcript '{}'", good("selector.yaml"), (dir / "t.jsonl").string()));
  REQUIRE(o.rc == 0);
  std::vector<std::string> choices;
  for (const auto& j : troupe::test::read_jsonl(dir / "t.jsonl"))
    if (j["type"] == "route") choices.push_back(j["choice"]);
  CHECK(choices == std::vector<std::string>{"cfo", "lead", "designer"});
}

TEST_CASE("run: the handoff target is recorded on the message") {
  troupe::test::temp_dir dir;
  REQUIRE(run_troupe(fmt::format("run {} --transcript '{}'", good("handoff.yaml"), (dir / "t.jsonl").string())).rc == 0);
  std::vector<std::string> targets;
  for (const auto& j : troupe::test::read_jsonl(dir / "t.jsonl"))
    if (j["type"] == "message" && j.contains("handoff")) targets.push_back(j["handoff"]);
  CHECK(targets == std::vector<std::string>{"billing", "tech"});
}

TEST_CASE("run: same seed, same conversation") {
  troupe::test::temp_dir dir;
  auto contents = [&](const char* name) {
    const auto path = dir / name;
    REQUIRE(run_troupe(fmt::format("run {} --seed 5 --transcript '{}'", good("broadcast.yaml"), path.string())).rc == 0);
    std::vector<std::string> out;
    for (const auto& j : troupe::test::read_jsonl(path))
      if (j["type"] == "message") out.push_back(j["sender"].get<std::string>() + ":" + j["content"].get<std::string>());
    CHECK(troupe::test::read_jsonl(path).front()["seed"] == 5);
    return out;
  };
  const auto a = contents("a.jsonl");
  CHECK(a.size() == 6);
  CHECK(a == contents("b.jsonl"));
}

TEST_CASE("run: an agent running out of script fails the run with exit 1") {
  const auto o = run_troupe("run " + good("round_robin.yaml") + " --set 'termination.any.0.stop_phrase=never said' "
                        "--set termination.any.1.max_turns=50");
  CHECK(o.rc == 1);
  CHECK(o.err.find("human agent 'bob' has no more scripted answers (2 given)") != std::string::npos);
}

TEST_CASE("run: an invalid scenario exits 3 and starts nothing") {
  const auto o = run_troupe("run " + (troupe::test::source_dir() / "tests/data/scenarios/bad/unknown_key.yaml").string());
  CHECK(o.rc == 3);
  CHECK(o.out.empty());
  CHECK(o.err.find("unknown key 'temprature'") != std::string::npos);
  CHECK(o.err.find("nothing was started") != std::string::npos);
}

TEST_CASE("run: llm agents without a usable model file exit 4 with a clear message") {
  const auto debate = (troupe::test::source_dir() / "configs/scenarios/debate.yaml").string();
  const auto o = run_troupe("run " + debate, "TROUPE_MODEL=/nonexistent/model.gguf");
  CHECK(o.rc == 4);
  CHECK(o.out.empty());  // no fake conversation
  CHECK(o.err.find("agent 'pro' (profile 'debater') needs the model file '/nonexistent/model.gguf', which does not exist") !=
        std::string::npos);

  troupe::test::temp_dir dir;
  std::ofstream(dir / "m.gguf") << "GGUF";
  const auto p = run_troupe("run " + debate, "TROUPE_MODEL=" + (dir / "m.gguf").string());
  CHECK(p.rc == 4);
  CHECK(p.out.empty());
  CHECK(p.err.find("does not exist") == std::string::npos);
  CHECK(p.err.find("cannot load model '" + (dir / "m.gguf").string() + "'") != std::string::npos);
}

TEST_CASE("run: a human without a script answers on stdin and sees the others") {
  const auto o = run_troupe("run " + good("interactive.yaml"), {}, "Hi bot.\nBye bot.\n");
  INFO(o.out << o.err);
  CHECK(o.rc == 0);
  CHECK(o.out.find("[me <- bot] Hello, me.") != std::string::npos);  // shown to the human
  CHECK(o.out.find("[me] me, your turn.") != std::string::npos);      // the prompt
  CHECK(o.out.find("me: Hi bot.\n") != std::string::npos);
  CHECK(o.out.find("== ended: max_turns reached (4) ==") != std::string::npos);
  // End of input before the run ends is a failure of that agent.
  const auto p = run_troupe("run " + good("interactive.yaml"), {}, "only one line\n");
  CHECK(p.rc == 1);
  CHECK(p.err.find("end of input while waiting for human agent 'me'") != std::string::npos);
}
