// The human agent kind with a scripted input source (test double).
#include <doctest/doctest.h>

#include <troupe/agents/kinds.hpp>
#include <troupe/runtime/runtime.hpp>

#include "support/scripted_inference.hpp"

using namespace troupe::runtime;

TEST_CASE("a human answers requests from its input source and sees messages") {
  runtime_config cfg;
  cfg.deterministic = true;
  runtime rt{cfg};
  auto input = std::make_shared<troupe::test::scripted_input>(std::vector<std::string>{"yes", "no"});
  troupe::agents::register_builtin_kinds(rt.kinds(), {input});
  agent_spec s;
  s.name = "alice";
  s.kind = "human";
  REQUIRE(rt.spawn(s));
  REQUIRE(rt.send("alice", "fyi: lunch at noon"));
  auto a = rt.ask("alice", "coming?", 1000);
  REQUIRE(a);
  CHECK(a->content == "yes");
  auto b = rt.ask("alice", "sure?", 1000);
  REQUIRE(b);
  CHECK(b->content == "no");
  auto c = rt.ask("alice", "still there?", 1000);
  REQUIRE(!c);
  CHECK(c.error().message.find("no more lines") != std::string::npos);
  CHECK(input->prompts() == std::vector<std::string>{"coming?", "sure?", "still there?"});
  CHECK(input->shown().front() == "fyi: lunch at noon");
}

TEST_CASE("threaded: the human's blocking read runs off the actor threads") {
  runtime_config cfg;
  cfg.scheduler_threads = 1; // exercises the detached-actor path of run_blocking
  runtime rt{cfg};
  auto input = std::make_shared<troupe::test::scripted_input>(std::vector<std::string>{"hello"});
  troupe::agents::register_builtin_kinds(rt.kinds(), {input});
  agent_spec s;
  s.name = "bob";
  s.kind = "human";
  REQUIRE(rt.spawn(s));
  auto a = rt.ask("bob", "say hi", 10'000);
  REQUIRE(a);
  CHECK(a->content == "hello");
}
