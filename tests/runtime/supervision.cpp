// Supervision: a failing handler is restarted (keeping history), stopped, or escalated.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

namespace {
runtime_config det() { return troupe::test::deterministic_config(1000); }

/// Remembers every message; throws on "boom".
troupe::test::handler fragile(std::vector<std::size_t>& history_sizes) {
  return [&history_sizes](agent_context& ctx, const envelope& m) {
    if (m.content == "boom")
      throw std::runtime_error("kaboom");
    ctx.memory().add({"user", m.content});
    history_sizes.push_back(ctx.memory().size());
  };
}

std::vector<std::string> events_of(const runtime& rt, const std::string& agent) {
  std::vector<std::string> out;
  for (const auto& e : rt.transcript())
    if (e.agent == agent && e.type != event_type::delivered)
      out.push_back(std::string{to_string(e.type)} + (e.detail.empty() ? "" : ":" + e.detail));
  return out;
}
} // namespace

TEST_CASE("restart keeps history and queued mail") {
  runtime rt{det()};
  std::vector<std::size_t> sizes;
  auto spec = named("f");
  spec.on_failure = restart_policy::restart;
  REQUIRE(rt.spawn(spec, fn_factory(fragile(sizes))));
  rt.run_pending();
  REQUIRE(rt.send("f", "one"));
  REQUIRE(rt.send("f", "boom"));
  REQUIRE(rt.send("f", "two"));
  rt.run_pending();
  CHECK(sizes == std::vector<std::size_t>{1, 2}); // "two" was queued and sees "one"
  CHECK(rt.has_agent("f"));
  auto ev = events_of(rt, "f");
  REQUIRE(ev.size() == 3);
  CHECK(ev[0] == "spawned:test");
  CHECK(ev[1] == "failed:kaboom");
  CHECK(ev[2] == "restarted:restart 1 of 3");
}

TEST_CASE("restart gives up after max_restarts and stops the agent") {
  runtime rt{det()};
  std::vector<std::size_t> sizes;
  auto spec = named("f");
  spec.max_restarts = 2;
  REQUIRE(rt.spawn(spec, fn_factory(fragile(sizes))));
  rt.run_pending();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(rt.send("f", "boom"));
    rt.run_pending();
  }
  CHECK(!rt.has_agent("f"));
  auto ev = events_of(rt, "f");
  CHECK(ev.back() == "stopped");
  CHECK(std::count(ev.begin(), ev.end(), "failed:kaboom") == 3);
}

TEST_CASE("stop policy stops the agent; the run ends when no agent is left") {
  runtime rt{det()};
  std::vector<std::size_t> sizes;
  auto spec = named("f");
  spec.on_failure = restart_policy::stop;
  REQUIRE(rt.spawn(spec, fn_factory(fragile(sizes))));
  rt.run_pending();
  REQUIRE(rt.send("f", "boom"));
  auto r = rt.wait();
  REQUIRE(r);
  CHECK(*r == "all agents stopped");
  CHECK(!rt.has_agent("f"));
  CHECK(events_of(rt, "f") == std::vector<std::string>{"spawned:test", "failed:kaboom", "stopped"});
  CHECK(!rt.send("f", "hello?"));
}

TEST_CASE("escalate ends the run with an error") {
  runtime rt{det()};
  std::vector<std::size_t> sizes;
  auto spec = named("f");
  spec.on_failure = restart_policy::escalate;
  REQUIRE(rt.spawn(spec, fn_factory(fragile(sizes))));
  REQUIRE(rt.spawn(named("bystander"), fn_factory([](agent_context&, const envelope&) {})));
  rt.run_pending();
  REQUIRE(rt.send("f", "boom"));
  auto r = rt.wait();
  REQUIRE(!r);
  CHECK(r.error().code == errc::agent_failed);
  CHECK(r.error().message.find("kaboom") != std::string::npos);
  auto ev = events_of(rt, "f");
  CHECK(std::find(ev.begin(), ev.end(), "escalated:kaboom") != ev.end());
}

TEST_CASE("a factory error refuses nothing at spawn but fails the start") {
  runtime rt{det()};
  auto spec = named("bad");
  spec.on_failure = restart_policy::stop;
  REQUIRE(rt.spawn(spec, [](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
    return fail(errc::invalid_argument, "missing option 'x'");
  }));
  rt.run_pending();
  CHECK(!rt.has_agent("bad"));
  auto ev = events_of(rt, "bad");
  REQUIRE(ev.size() == 3);
  CHECK(ev[1].find("missing option 'x'") != std::string::npos);
}
