// The built-in `openai` target kind inside a pool: an endpoint that cannot be reached fails
// with errc::unavailable, and the pool re-runs those requests on the other target.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/manual_target.hpp"

using namespace troupe::runtime;

TEST_CASE("requests sent to an unreachable openai target fail over to the other target") {
  troupe::test::manual_farm farm;
  std::atomic<int> ok{0}, failed{0};
  pool_options o;
  o.policy = balance_policy::round_robin;
  o.affinity = false;
  o.factories["manual"] = farm.factory();
  target_options api;
  api.kind = "openai";  // the built-in factory: make_openai_client
  api.name = "api";
  api.url = "http://127.0.0.1:1";  // nothing listens on port 1
  api.model = "m";
  api.capacity = 4;
  target_options local;
  local.kind = "manual";
  local.name = "local";
  local.capacity = 8;
  o.targets = {api, local};
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  const int n = 6;
  for (int i = 0; i < n; ++i) {
    generation_request r;
    r.request_id = "o" + std::to_string(i);
    r.messages.push_back({"user", "hi"});
    (*pool)->generate(r, {}, [&ok, &failed](result<generation_result> res) { (res ? ok : failed)++; });
  }
  auto m = farm.at(0);
  // Wait (generously) until every request reached the manual target, then answer them.
  for (int i = 0; i < 3000 && m->calls() < static_cast<std::size_t>(n); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(m->calls() == static_cast<std::size_t>(n));
  for (auto i : m->open()) m->finish(i, "fine");
  for (int i = 0; i < 3000 && ok + failed < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(ok == n);
  CHECK(failed == 0);
  auto s = (*pool)->stats();
  for (int i = 0; i < 300 && s.completed < static_cast<std::size_t>(n); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = (*pool)->stats();
  }
  CHECK(s.failovers >= n / 2);  // round robin sent about half to the endpoint first
  (*pool)->shutdown();
}
