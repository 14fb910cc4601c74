// Publish/subscribe between agents: fan-out, wildcards, run-time changes, host callbacks.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

namespace {
runtime_config det() { return troupe::test::deterministic_config(); }
} // namespace

TEST_CASE("publication fans out to every matching subscriber exactly once") {
  runtime rt{det()};
  std::map<std::string, std::vector<std::string>> got;
  auto record = [&got](agent_context& ctx, const envelope& m) { got[ctx.name()].push_back(m.topic); };
  auto spec = [](std::string name, std::vector<std::string> subs) {
    auto s = named(std::move(name));
    s.subscriptions = std::move(subs);
    return s;
  };
  REQUIRE(rt.spawn(spec("exact", {"news.sports"}), fn_factory(record)));
  REQUIRE(rt.spawn(spec("star", {"news.*"}), fn_factory(record)));
  REQUIRE(rt.spawn(spec("hash", {"news.#"}), fn_factory(record)));
  REQUIRE(rt.spawn(spec("both", {"news.sports", "news.#"}), fn_factory(record)));
  REQUIRE(rt.spawn(spec("other", {"weather.#"}), fn_factory(record)));
  rt.run_pending();
  auto n = rt.publish("news.sports", "goal");
  REQUIRE(n);
  CHECK(*n == 4);
  n = rt.publish("news", "headline");
  REQUIRE(n);
  CHECK(*n == 2); // hash and both
  n = rt.publish("news.sports.tennis", "ace");
  REQUIRE(n);
  CHECK(*n == 2);
  rt.run_pending();
  CHECK(got["exact"] == std::vector<std::string>{"news.sports"});
  CHECK(got["star"] == std::vector<std::string>{"news.sports"});
  CHECK(got["hash"] == std::vector<std::string>{"news.sports", "news", "news.sports.tennis"});
  CHECK(got["both"] == std::vector<std::string>{"news.sports", "news", "news.sports.tennis"});
  CHECK(got["other"].empty());
  CHECK(!rt.publish("news.*", "bad"));
}

TEST_CASE("fan-out to 100 subscribers") {
  runtime rt{det()};
  int received = 0;
  for (int i = 0; i < 100; ++i) {
    auto s = named("sub" + std::to_string(i));
    s.subscriptions = {"bench.fan"};
    REQUIRE(rt.spawn(s, fn_factory([&received](agent_context&, const envelope&) { ++received; })));
  }
  rt.run_pending();
  for (int k = 0; k < 10; ++k)
    REQUIRE(*rt.publish("bench.fan", "x") == 100);
  rt.run_pending();
  CHECK(received == 1000);
}

TEST_CASE("subscriptions change at run time, from the host and from the agent itself") {
  runtime rt{det()};
  std::vector<std::string> got;
  REQUIRE(rt.spawn(named("l"), fn_factory([&got](agent_context& ctx, const envelope& m) {
    if (m.content == "join")
      REQUIRE(ctx.subscribe("chat.*"));
    else if (m.content == "leave")
      REQUIRE(ctx.unsubscribe("chat.*"));
    else
      got.push_back(m.content);
  })));
  rt.run_pending();
  CHECK(*rt.publish("chat.room", "before") == 0);
  REQUIRE(rt.send("l", "join"));
  rt.run_pending();
  CHECK(*rt.publish("chat.room", "during") == 1);
  REQUIRE(rt.send("l", "leave"));
  rt.run_pending();
  CHECK(*rt.publish("chat.room", "after") == 0);
  REQUIRE(rt.subscribe_agent("l", "alerts"));
  CHECK(*rt.publish("alerts", "alert") == 1);
  REQUIRE(rt.unsubscribe_agent("l", "alerts"));
  CHECK(*rt.publish("alerts", "late") == 0);
  CHECK(!rt.unsubscribe_agent("l", "alerts"));
  CHECK(!rt.subscribe_agent("nobody", "alerts"));
  rt.run_pending();
  CHECK(got == std::vector<std::string>{"during", "alert"});
}

TEST_CASE("host callback subscriptions see publications in order") {
  runtime rt{det()};
  std::vector<std::string> seen;
  auto id = rt.subscribe("log.#", [&seen](const envelope& m) { seen.push_back(m.content); });
  REQUIRE(id);
  rt.run_pending();
  CHECK(rt.agent_count() == 0); // helpers are not counted
  for (int i = 0; i < 5; ++i)
    REQUIRE(*rt.publish("log.info", std::to_string(i)) == 1);
  rt.run_pending();
  CHECK(seen == std::vector<std::string>{"0", "1", "2", "3", "4"});
  REQUIRE(rt.unsubscribe(*id));
  CHECK(*rt.publish("log.info", "x") == 0);
  CHECK(!rt.unsubscribe(*id));
}

TEST_CASE("spec().subscriptions reflects run-time changes by the agent and by the host") {
  runtime rt{det()};
  std::vector<std::vector<std::string>> seen; // spec().subscriptions at each "show"
  auto s = named("w");
  s.subscriptions = {"news.#"};
  REQUIRE(rt.spawn(s, fn_factory([&seen](agent_context& ctx, const envelope& m) {
    if (m.content == "join")
      REQUIRE(ctx.subscribe("chat.*"));
    else if (m.content == "leave")
      REQUIRE(ctx.unsubscribe("news.#"));
    seen.push_back(ctx.spec().subscriptions); // also right after the agent's own change
  })));
  rt.run_pending();
  REQUIRE(rt.send("w", "show"));
  rt.run_pending();
  REQUIRE(rt.send("w", "join"));
  rt.run_pending();
  REQUIRE(rt.subscribe_agent("w", "alerts"));
  REQUIRE(rt.send("w", "show"));
  rt.run_pending();
  REQUIRE(rt.send("w", "leave"));
  rt.run_pending();
  REQUIRE(rt.unsubscribe_agent("w", "alerts"));
  REQUIRE(rt.send("w", "show"));
  rt.run_pending();
  using v = std::vector<std::string>;
  REQUIRE(seen.size() == 5);
  CHECK(seen[0] == v{"news.#"});
  CHECK(seen[1] == v{"news.#", "chat.*"});
  CHECK(seen[2] == v{"news.#", "chat.*", "alerts"});
  CHECK(seen[3] == v{"chat.*", "alerts"});
  CHECK(seen[4] == v{"chat.*"});
}
