// `troupe run` end to end with troupe's engine: the debate scenario on a random model written
// by the test (greedy, short replies), through the real binary.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/jsonl.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

TEST_CASE("run: llm agents on a real model file produce streamed text, a transcript and exit 0") {
  troupe::test::temp_dir dir("troupe-run-engine");
  troupe::inference::model_spec spec;
  spec.n_ctx = 2048;  // the debate's prompts grow turn by turn
  spec.weight_std = 0.1f;
  spec.seed = 5;
  const auto model = (dir / "m.gguf").string();
  REQUIRE(troupe::inference::write_random_model(spec, model));

  const auto debate = (troupe::test::source_dir() / "configs/scenarios/debate.yaml").string();
  const auto transcript = dir / "t.jsonl";
  const auto cmd = fmt::format(
      "TROUPE_MODEL='{}' '{}' run '{}' --transcript '{}' --set profiles.debater.temperature=0 "
      "--set profiles.debater.max_tokens=12 --set profiles.judge.max_tokens=12 "
      "--set termination.any.1.max_turns=3 </dev/null",
      model, troupe::test::troupe_bin(), debate, transcript.string());
  const auto r = troupe::test::run_command(cmd);
  INFO(r.output);
  REQUIRE(r.status == 0);

  const std::set<std::string> llm = {"pro", "con", "judge"};
  std::set<std::string> spoke;
  for (const auto& j : troupe::test::read_jsonl(transcript)) {
    if (j["type"] != "message" || llm.count(j["sender"].get<std::string>()) == 0) continue;
    const auto sender = j["sender"].get<std::string>();
    const auto content = j["content"].get<std::string>();
    spoke.insert(sender);
    CHECK_FALSE(content.empty());
    CHECK(j["tokens_exact"] == true);
    CHECK(j["tokens"].get<std::int64_t>() > 0);
    CHECK(j["tokens"].get<std::int64_t>() <= 12);
    // The pieces were printed as they streamed, after the speaker's name.
    CHECK(r.output.find(sender + ": " + content) != std::string::npos);
  }
  CHECK(spoke == llm);
  CHECK(r.output.find("== ended: max_turns reached (3) ==") != std::string::npos);
}

TEST_CASE("run: the summary says how many prompt tokens the engine's KV sessions spared") {
  troupe::test::temp_dir dir("troupe-run-engine-sessions");
  troupe::inference::model_spec spec;
  spec.n_ctx = 2048;
  spec.weight_std = 0.1f;
  spec.seed = 5;
  const auto model = (dir / "m.gguf").string();
  REQUIRE(troupe::inference::write_random_model(spec, model));
  const auto debate = (troupe::test::source_dir() / "configs/scenarios/debate.yaml").string();
  // Six turns: each agent speaks twice, so its second prompt starts with its first one.
  const auto cmd = fmt::format(
      "TROUPE_MODEL='{}' '{}' run '{}' --set profiles.debater.temperature=0 "
      "--set profiles.debater.max_tokens=8 --set profiles.judge.max_tokens=8 "
      "--set termination.any.1.max_turns=6 </dev/null",
      model, troupe::test::troupe_bin(), debate);
  const auto r = troupe::test::run_command(cmd);
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto at = r.output.find("\nengine: ");
  REQUIRE(at != std::string::npos);
  long prompt = 0, reused = 0, computed = 0;
  REQUIRE(std::sscanf(r.output.c_str() + at, "\nengine: %ld prompt tokens, %ld reused from the KV cache (%*f%%), %ld computed",
                      &prompt, &reused, &computed) == 3);
  CHECK(prompt > 0);
  CHECK(reused > 0);
  CHECK(reused + computed == prompt);
}
