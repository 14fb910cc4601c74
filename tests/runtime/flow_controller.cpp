// The flow of every flow type, driven by hand: who speaks next after which events.
#include <doctest/doctest.h>

#include <troupe/runtime/flow_controller.hpp>
#include <troupe/runtime/scenario_loader.hpp>

using namespace troupe::runtime;
using kind = flow_step::kind;

namespace {

scenario load(const std::string& yaml) {
  auto r = load_scenario_text(yaml, "t.yaml");
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.error())));
  return *r;
}

const char* humans3 = R"(
agents:
  - {name: a, kind: human}
  - {name: b, kind: human}
  - {name: c, kind: human}
)";

std::string speaker(const flow_controller& f) {
  const auto s = f.next();
  REQUIRE(s.type == kind::speak);
  REQUIRE(s.agents.size() == 1);
  return s.agents[0];
}

} // namespace

TEST_CASE("round_robin cycles through flow.order") {
  const auto s = load(std::string{"name: t\n"} + humans3 +
                      "flow: {type: round_robin, order: [c, a], opening: go}\ntermination: {max_turns: 9}\n");
  flow_controller f(s);
  REQUIRE(f.history().size() == 1);
  CHECK(f.history()[0].speaker == "user");
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    order.push_back(speaker(f));
    CHECK(f.next().agents == std::vector<std::string>{order.back()});  // next() is stable
    f.record({order.back(), "hi", {}, {}});
  }
  CHECK(order == std::vector<std::string>{"c", "a", "c", "a", "c"});
  CHECK(f.turns() == 5);
}

TEST_CASE("round_robin without order uses all non-router agents in declaration order") {
  const auto s = load(std::string{"name: t\n"} + humans3 +
                      "  - {name: r, kind: router, fallback: a}\nflow: {type: round_robin}\ntermination: {max_turns: 9}\n");
  flow_controller f(s);
  CHECK(f.history().empty());
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    order.push_back(speaker(f));
    f.record({order.back(), "x", {}, {}});
  }
  CHECK(order == std::vector<std::string>{"a", "b", "c", "a"});
}

TEST_CASE("broadcast asks every speaker each round") {
  const auto s = load(std::string{"name: t\ntopics: [room]\n"} + humans3 +
                      "flow: {type: broadcast, topic: room, opening: vote}\ntermination: {max_turns: 9}\n");
  flow_controller f(s);
  auto step = f.next();
  REQUIRE(step.type == kind::broadcast);
  CHECK(step.agents == std::vector<std::string>{"a", "b", "c"});
  CHECK(step.topic == "room");
  f.record({"a", "1", {}, {}});
  f.record({"b", "2", {}, {}});
  CHECK(f.next().type == kind::broadcast);
  f.record({"c", "3", {}, {}});
  CHECK(f.next().agents.size() == 3);
  CHECK(f.history().size() == 4);
}

TEST_CASE("selector asks the router each turn and rejects choices outside the flow") {
  const auto s = load(std::string{"name: t\n"} + humans3 + R"(  - name: r
    kind: router
    rules:
      - {contains: budget, next: c}
      - {contains: design, next: b}
flow: {type: selector, router: r, order: [a, b, c], start: a}
termination: {max_turns: 9}
)");
  flow_controller f(s);
  CHECK(speaker(f) == "a");  // flow.start speaks first
  f.record({"a", "What about the BUDGET?", {}, {}});
  auto step = f.next();
  REQUIRE(step.type == kind::route);
  CHECK(step.agents == std::vector<std::string>{"r"});
  const std::string pick = "c";  // what the router agent would answer (agents/ tests that)
  CHECK_FALSE(f.choose("r").has_value());  // the router itself is not a speaker
  CHECK(f.next().type == kind::route);
  REQUIRE(f.choose(pick).has_value());
  CHECK(speaker(f) == "c");
  f.record({"c", "The design matters more.", {}, {}});
  CHECK(f.next().type == kind::route);
  REQUIRE(f.choose("b").has_value());
  CHECK(speaker(f) == "b");
  CHECK(f.choose("zed").error() == "router 'r' chose 'zed', which is not a speaker of this flow");
}

TEST_CASE("handoff follows HANDOFF lines and structured targets, and ends without one") {
  const auto s = load(std::string{"name: t\n"} + humans3 +
                      "flow: {type: handoff, start: b}\ntermination: {max_turns: 9}\n");
  flow_controller f(s);
  CHECK(speaker(f) == "b");
  f.record({"b", "Not mine.\nHANDOFF: c", {}, {}});
  CHECK(speaker(f) == "c");
  CHECK(f.history().back().handoff == "c");
  f.record({"c", "done", "a", {}});  // structured metadata wins over text
  CHECK(speaker(f) == "a");
  f.record({"a", "handoff: zed", {}, {}});
  auto step = f.next();
  CHECK(step.type == kind::finished);
  CHECK(step.reason == "a handed off to unknown agent 'zed'");

  flow_controller g(s);
  g.record({"b", "All solved, thanks!", {}, {}});
  CHECK(g.next().type == kind::finished);
  CHECK(g.next().reason == "b handed off to nobody");
}

TEST_CASE("handoff with a fallback goes back to it when nobody is named") {
  const auto s = load(std::string{"name: t\n"} + humans3 +
                      "flow: {type: handoff, fallback: a}\ntermination: {max_turns: 9}\n");
  flow_controller f(s);
  CHECK(speaker(f) == "a");
  f.record({"a", "HANDOFF: b", {}, {}});
  f.record({"b", "no target here", {}, {}});
  CHECK(speaker(f) == "a");
}

TEST_CASE("parse_handoff takes the last marked line and strips decoration") {
  CHECK(parse_handoff("HANDOFF: bob") == "bob");
  CHECK(parse_handoff("x\n  **Handoff:** \"carol\".\nmore") == "carol");
  CHECK(parse_handoff("handoff: a\nHANDOFF: b extra words") == "b");
  CHECK(parse_handoff("I will not hand off") == "");
  CHECK(parse_handoff("") == "");
  CHECK(parse_handoff("HANDOFF:") == "");
}

TEST_CASE("pipeline runs the stages in order for each round, then finishes") {
  const auto s = load(std::string{"name: t\n"} + humans3 +
                      "flow: {type: pipeline, stages: [c, b], rounds: 2, opening: brief}\n");
  CHECK_FALSE(s.termination.has_value());
  flow_controller f(s);
  std::vector<std::string> order;
  while (f.next().type == kind::speak) {
    order.push_back(speaker(f));
    f.record({order.back(), "out", {}, {}});
  }
  CHECK(order == std::vector<std::string>{"c", "b", "c", "b"});
  CHECK(f.next().reason == "pipeline complete (4 stages)");
}

TEST_CASE("free_form wakes subscribers of each message's topic, once each") {
  const auto s = load(R"(name: t
topics: [chat.general, chat.news, alerts]
agents:
  - {name: a, kind: human, subscribe: ["chat.*"], publish: alerts}
  - {name: b, kind: human, subscribe: [chat.general, alerts]}
  - {name: c, kind: human, subscribe: [alerts]}
  - {name: d, kind: human, subscribe: ["#"]}
flow: {type: free_form, topic: chat.general, opening: hello}
termination: {max_turns: 20}
)");
  flow_controller f(s);
  // The opening on chat.general wakes a, b, d (c listens to alerts only).
  CHECK(speaker(f) == "a");
  CHECK(f.next().topic == "chat.general");
  f.record({"a", "alert!", {}, {}});        // a publishes on alerts: wakes c (b, d already queued)
  CHECK(f.history().back().topic == "alerts");
  CHECK(speaker(f) == "b");
  f.record({"b", "ok", {}, {}});            // b on chat.general: wakes a again
  CHECK(speaker(f) == "d");
  f.record({"d", "ok", {}, {}});            // wakes b (a queued, c queued)
  std::vector<std::string> rest;
  for (int i = 0; i < 3; ++i) {
    rest.push_back(speaker(f));
    f.record({rest.back(), "fine", {}, {}});
  }
  CHECK(rest == std::vector<std::string>{"c", "a", "b"});
}

TEST_CASE("free_form with nobody left to react finishes") {
  const auto s = load(R"(name: t
topics: [q, r]
agents:
  - {name: a, kind: human, subscribe: [q], publish: r}
flow: {type: free_form, topic: q, opening: ping}
termination: {max_turns: 20}
)");
  flow_controller f(s);
  CHECK(speaker(f) == "a");
  f.record({"a", "pong", {}, {}});
  CHECK(f.next().type == kind::finished);
  CHECK(f.next().reason == "no agent has anything to react to");
}

