// Many agents in one process.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

TEST_CASE("10,000 agents are spawned, each answers, and all are stopped") {
  runtime_config cfg;
  cfg.scheduler_threads = 2;
  runtime rt{cfg};
  constexpr int n = 10'000;
  std::atomic<int> handled{0};
  auto fn = fn_factory([&handled](agent_context&, const envelope&) { ++handled; });
  for (int i = 0; i < n; ++i)
    REQUIRE(rt.spawn(named("a" + std::to_string(i), 4), fn));
  CHECK(rt.agent_count() == n);
  for (int i = 0; i < n; ++i)
    REQUIRE(rt.send("a" + std::to_string(i), "ping"));
  for (long spin = 0; spin < 100'000'000 && handled.load() < n; ++spin)
    std::this_thread::yield();
  CHECK(handled.load() == n);
  rt.shutdown();
  CHECK(rt.agent_count() == 0);
  auto r = rt.wait(120'000);
  REQUIRE(r);
  CHECK(*r == "all agents stopped");
}
