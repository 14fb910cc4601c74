// The llm agent kind against the scripted inference test double.
#include <doctest/doctest.h>

#include <troupe/agents/kinds.hpp>
#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"
#include "support/scripted_inference.hpp"

using namespace troupe::runtime;
using troupe::test::scripted_inference;

namespace {
runtime_config det() { return troupe::test::deterministic_config(); }

agent_spec llm(std::string name) {
  agent_spec s;
  s.name = std::move(name);
  s.kind = "llm";
  s.role = "You are a terse poet.";
  s.profile = "small";
  s.params = {{"temperature", "0.2"}, {"seed", "7"}, {"max_tokens", "32"}, {"stop", "END|STOP"},
              {"repeat_penalty", "1.3"}, {"template", "{name}: {role}"}};
  return s;
}
} // namespace

TEST_CASE("an llm agent turns a request plus its history into a generation and replies") {
  runtime rt{det()};
  troupe::agents::register_builtin_kinds(rt.kinds());
  auto engine = std::make_shared<scripted_inference>(std::vector<std::string>{"roses are red", "violets too"});
  rt.set_inference_client(engine);
  REQUIRE(rt.spawn(llm("poet")));
  REQUIRE(rt.send("poet", "context only")); // a message: remembered, not answered
  auto first = rt.ask("poet", "a poem please", 1000);
  REQUIRE(first);
  CHECK(first->content == "roses are red");
  CHECK(first->metadata.at("completion_tokens") == "3");
  auto second = rt.ask("poet", "another", 1000);
  REQUIRE(second);
  CHECK(second->content == "violets too");

  auto reqs = engine->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].agent == "poet");
  CHECK(reqs[0].profile == "small");
  CHECK(reqs[0].sampling.temperature == doctest::Approx(0.2));
  REQUIRE(reqs[0].sampling.seed.has_value());
  CHECK(*reqs[0].sampling.seed == 7u);
  CHECK(reqs[0].sampling.max_tokens == 32);
  CHECK(reqs[0].sampling.repeat_penalty == doctest::Approx(1.3));  // the scenario key reaches the engine
  CHECK(reqs[0].sampling.stop == std::vector<std::string>{"END", "STOP"});
  REQUIRE(reqs[0].messages.size() == 3);
  CHECK(reqs[0].messages[0].role == "system");
  CHECK(reqs[0].messages[0].content == "poet: You are a terse poet.");
  CHECK(reqs[0].messages[1].content == "host: context only");
  CHECK(reqs[0].messages[2].content == "host: a poem please");
  // The second prompt carries the first answer as the assistant's turn.
  REQUIRE(reqs[1].messages.size() == 5);
  CHECK(reqs[1].messages[3].role == "assistant");
  CHECK(reqs[1].messages[3].content == "roses are red");
  CHECK(reqs[1].messages[4].content == "host: another");
}

TEST_CASE("without an engine the request fails with 'no model engine available'") {
  runtime rt{det()};
  troupe::agents::register_builtin_kinds(rt.kinds());
  REQUIRE(rt.spawn(llm("poet")));
  auto r = rt.ask("poet", "hello", 1000);
  REQUIRE(!r);
  CHECK(r.error().code == errc::agent_failed);
  CHECK(r.error().message.find("no model engine available") != std::string::npos);
}

TEST_CASE("a generation past its deadline is cancelled and the request fails") {
  runtime rt{det()};
  troupe::agents::register_builtin_kinds(rt.kinds());
  auto engine = std::make_shared<scripted_inference>(std::vector<std::string>{"too late"});
  engine->hold();
  rt.set_inference_client(engine);
  auto spec = llm("slow");
  spec.params["timeout_ms"] = "100";
  REQUIRE(rt.spawn(spec));
  auto r = rt.ask("slow", "hurry", 10'000);
  REQUIRE(!r);
  CHECK(r.error().message.find("deadline") != std::string::npos);
  REQUIRE(engine->cancelled().size() == 1);
  CHECK(engine->cancelled()[0] == engine->requests()[0].request_id);
  engine->release_all(); // the late answer is ignored
  rt.run_pending();
}

TEST_CASE("bad sampling options refuse to start the agent") {
  runtime rt{det()};
  troupe::agents::register_builtin_kinds(rt.kinds());
  auto spec = llm("broken");
  spec.params["temperature"] = "warm";
  spec.on_failure = restart_policy::stop;
  REQUIRE(rt.spawn(spec));
  rt.run_pending();
  CHECK(!rt.has_agent("broken"));
}
