// A scenario of llm agents conducted end to end against the scripted inference TEST DOUBLE
// (canned replies, no model): prompts, sampling, context delivery, tokens and termination.
#include <doctest/doctest.h>

#include <troupe/agents/scenario_agents.hpp>
#include <troupe/runtime/conductor.hpp>
#include <troupe/runtime/scenario_loader.hpp>

#include "support/fn_agent.hpp"
#include "support/scripted_inference.hpp"
#include "support/temp_dir.hpp"

using namespace troupe::runtime;
using troupe::test::scripted_inference;

namespace {

scenario load(const std::string& file, std::vector<std::string> sets = {}) {
  load_options o;
  o.overrides = std::move(sets);
  o.env = [](const std::string&) -> std::optional<std::string> { return std::string{"m.gguf"}; };
  auto r = load_scenario_file(troupe::test::source_dir() / file, o);
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.error())));
  return *r;
}

runtime_config det() { return troupe::test::deterministic_config(); }

} // namespace

TEST_CASE("debate.yaml runs on llm agents until the judge's verdict") {
  const auto s = load("configs/scenarios/debate.yaml");
  runtime rt{det()};
  auto engine = std::make_shared<scripted_inference>(
      std::vector<std::string>{"Small models are cheap.", "Large ones know more.", "VERDICT: pro wins.", "unused"});
  rt.set_inference_client(engine);
  REQUIRE(troupe::agents::spawn_scenario(rt, s, nullptr, 99));
  std::vector<conducted_message> said;
  conductor_options o;
  o.callbacks.on_message = [&](const conducted_message& m) { said.push_back(m); };
  const auto r = conduct(rt, s, o);
  CHECK_FALSE(r.failed);
  CHECK(r.reason == "stop phrase \"VERDICT:\" said by judge");
  CHECK(r.turns == 3);
  CHECK(r.tokens == 4 + 4 + 3);  // the double counts one token per word
  REQUIRE(said.size() == 4);
  CHECK(said[0].speaker == "user");
  CHECK(said[1].speaker == "pro");
  CHECK(said[1].tokens_exact);
  CHECK(said[1].to == std::vector<std::string>{"con", "judge"});
  CHECK(said[3].text == "VERDICT: pro wins.");

  const auto reqs = engine->requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].agent == "pro");
  CHECK(reqs[0].profile == "debater");
  CHECK(reqs[0].messages.front().content.find("You argue FOR the motion") == 0);
  CHECK(reqs[0].messages[1].content == "user: Motion: small language models are more useful than large ones.");
  CHECK(reqs[0].messages.back().content == "host: pro, your turn.");
  CHECK(reqs[0].sampling.stop == std::vector<std::string>{"\n\n"});
  REQUIRE(reqs[0].sampling.seed.has_value());
  CHECK(*reqs[0].sampling.seed == 99u);  // --seed for profiles without their own
  // con hears the opening and pro's argument before its turn.
  CHECK(reqs[1].agent == "con");
  CHECK(reqs[1].messages[2].content == "pro: Small models are cheap.");
  CHECK(reqs[2].agent == "judge");
  CHECK(reqs[2].sampling.temperature == 0.0f);
}

TEST_CASE("max_tokens ends a run counted in engine tokens") {
  const auto s = load("configs/scenarios/brainstorm.yaml", {"termination.any.2.max_tokens=5"});
  runtime rt{det()};
  rt.set_inference_client(std::make_shared<scripted_inference>(
      std::vector<std::string>{"one two three", "four five six", "never"}));
  REQUIRE(troupe::agents::spawn_scenario(rt, s, nullptr));
  const auto r = conduct(rt, s);
  CHECK(r.reason == "max_tokens reached (6 >= 5)");
  CHECK(r.agents.at("moderator").tokens == 3);
  CHECK(r.agents.at("designer").tokens == 3);
}

TEST_CASE("without an inference client the run fails with the engine's message") {
  const auto s = load("configs/scenarios/support_handoff.yaml");
  runtime rt{det()};
  REQUIRE(troupe::agents::spawn_scenario(rt, s, nullptr));
  const auto r = conduct(rt, s);
  CHECK(r.failed);
  CHECK(r.turns == 0);
  CHECK(r.reason.find("no model engine available") != std::string::npos);
}

TEST_CASE("handoff between llm agents follows the HANDOFF lines") {
  const auto s = load("configs/scenarios/support_handoff.yaml");
  runtime rt{det()};
  rt.set_inference_client(std::make_shared<scripted_inference>(std::vector<std::string>{
      "Billing question.\nHANDOFF: billing", "Refunded.\nHANDOFF: tech", "Reset sent. Done."}));
  REQUIRE(troupe::agents::spawn_scenario(rt, s, nullptr));
  std::vector<std::string> order;
  conductor_options o;
  o.callbacks.on_message = [&](const conducted_message& m) { order.push_back(m.speaker); };
  const auto r = conduct(rt, s, o);
  CHECK(order == std::vector<std::string>{"user", "triage", "billing", "tech"});
  CHECK(r.reason == "tech handed off to nobody");
}
