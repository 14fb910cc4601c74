// Every termination condition, alone and combined with any/all (nested).
#include <doctest/doctest.h>

#include <troupe/runtime/scenario_loader.hpp>
#include <troupe/runtime/termination_tracker.hpp>

using namespace troupe::runtime;

namespace {

termination_tracker tracker(const std::string& termination) {
  auto r = load_scenario_text("name: t\nagents: [{name: a, kind: human}]\nflow: {type: round_robin}\n"
                              "termination: " + termination + "\n", "t.yaml");
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.error())));
  return termination_tracker(r->termination);
}

} // namespace

TEST_CASE("max_turns") {
  auto t = tracker("{max_turns: 3}");
  t.on_message("a", "x", 1);
  t.on_message("a", "x", 1);
  CHECK_FALSE(t.reason());
  t.on_message("a", "x", 1);
  CHECK(t.reason() == "max_turns reached (3)");
  CHECK(t.turns() == 3);
}

TEST_CASE("max_tokens counts tokens over all agents") {
  auto t = tracker("{max_tokens: 100}");
  t.on_message("a", "x", 60);
  CHECK_FALSE(t.reason());
  t.on_message("b", "x", 45);
  CHECK(t.reason() == "max_tokens reached (105 >= 100)");
  CHECK(t.tokens() == 105);
}

TEST_CASE("stop_phrase is a case-insensitive substring and names who said it") {
  auto t = tracker("{stop_phrase: I concede, max_turns: 50}");
  t.on_message("a", "I do not concede", 1);
  CHECK_FALSE(t.reason());
  t.on_message("b", "Fine. i CONCEDE the point.", 1);
  CHECK(t.reason() == "stop phrase \"I concede\" said by b");
}

TEST_CASE("timeout_s uses the elapsed time the caller supplies") {
  auto t = tracker("{timeout_s: 2.5}");
  t.on_elapsed(2.4);
  CHECK_FALSE(t.reason());
  t.on_elapsed(2.5);
  CHECK(t.reason() == "timeout after 2.5 s");
}

TEST_CASE("several keys in one map mean any") {
  auto t = tracker("{max_turns: 5, max_tokens: 10}");
  t.on_message("a", "x", 10);
  CHECK(t.reason() == "max_tokens reached (10 >= 10)");
}

TEST_CASE("all needs every condition; stop phrases latch") {
  auto t = tracker("{any: [{all: [{stop_phrase: done}, {max_turns: 3}]}, {max_turns: 100}]}");
  t.on_message("a", "we are done", 1);
  CHECK_FALSE(t.reason());  // only one turn so far
  t.on_message("a", "more", 1);
  t.on_message("a", "more", 1);
  CHECK(t.reason() == "stop phrase \"done\" said by a and max_turns reached (3)");
}

TEST_CASE("nested any/all") {
  const char* spec = "{any: [{max_turns: 10}, {all: [{max_tokens: 20}, {any: [{stop_phrase: bye}, {timeout_s: 5}]}]}]}";
  auto t = tracker(spec);
  t.on_message("a", "hello", 25);
  CHECK_FALSE(t.reason());  // tokens met, but neither bye nor timeout
  t.on_elapsed(6);
  CHECK(t.reason() == "max_tokens reached (25 >= 20) and timeout after 5.0 s");

  auto u = tracker(spec);
  for (int i = 0; i < 10; ++i) u.on_message("a", "x", 0);
  CHECK(u.reason() == "max_turns reached (10)");

  auto v = tracker(spec);
  v.on_message("a", "bye", 30);
  CHECK(v.reason() == "max_tokens reached (30 >= 20) and stop phrase \"bye\" said by a");
}

TEST_CASE("stop_phrase may list several phrases") {
  auto t = tracker("{stop_phrase: [goodbye, farewell], max_turns: 9}");
  t.on_message("a", "Farewell!", 1);
  CHECK(t.reason() == "stop phrase \"farewell\" said by a");
}

TEST_CASE("an all of stop phrases alone is rejected as unbounded") {
  auto r = load_scenario_text("name: t\nagents: [{name: a, kind: human}]\nflow: {type: round_robin}\n"
                              "termination: {all: [{stop_phrase: x}, {max_turns: 3}]}\n", "t.yaml");
  REQUIRE_FALSE(r);
  CHECK(r.error().front().message == "termination may never happen: only stop phrases can end it");
}

TEST_CASE("no termination spec never ends by itself") {
  termination_tracker t(std::nullopt);
  for (int i = 0; i < 100; ++i) t.on_message("a", "x", 100);
  t.on_elapsed(1e9);
  CHECK_FALSE(t.reason());
}
