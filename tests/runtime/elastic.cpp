// Elastic target groups: grown by queue depth after consecutive high ticks up to max_count,
// drained (in-flight work finishes) and stopped after consecutive low ticks down to min_count.
#include <doctest/doctest.h>

#include <map>

#include "support/manual_target.hpp"

using namespace troupe::runtime;
using troupe::test::manual_farm;
using troupe::test::manual_pool_options;

namespace {

int done_count = 0;

void submit(inference_pool& pool, const std::string& id) {
  generation_request r;
  r.request_id = id;
  r.messages.push_back({"user", "hi"});
  pool.generate(std::move(r), {}, [](result<generation_result> res) {
    if (res) ++done_count;
  });
}

std::size_t count(const pool_stats& s, target_health h) {
  std::size_t n = 0;
  for (const auto& t : s.targets) n += t.health == h;
  return n;
}

} // namespace

TEST_CASE("an elastic group grows under load, with hysteresis, and drains back to its minimum") {
  done_count = 0;
  manual_farm farm;
  auto o = manual_pool_options(farm, {1}, 2);
  o.targets[0].min_count = 1;
  o.targets[0].max_count = 3;
  o.elastic.tick_ms = 100;
  o.elastic.grow_after_ticks = 3;
  o.elastic.shrink_after_ticks = 5;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  for (int i = 0; i < 8; ++i) submit(**pool, "e" + std::to_string(i));
  (*pool)->run_pending();
  CHECK((*pool)->stats().queued == 6);
  (*pool)->advance_time_ms(100);
  (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 1);  // two high ticks: not yet
  (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 2);  // the third: one more instance
  CHECK((*pool)->stats().queued == 4);
  for (int i = 0; i < 3; ++i) (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 3);
  for (int i = 0; i < 6; ++i) (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 3);  // at max_count
  CHECK((*pool)->stats().grown == 2);
  CHECK((*pool)->stats().queued == 2);
  // Finish everything; the queued rest runs too.
  for (int round = 0; round < 3; ++round) {
    for (std::size_t t = 0; t < farm.size(); ++t)
      for (auto i : farm.at(t)->open()) farm.at(t)->finish(i, "ok");
    (*pool)->run_pending();
  }
  CHECK(done_count == 8);
  // Idle: after five low ticks one instance drains; five more, another; never below min.
  for (int i = 0; i < 4; ++i) (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 3);
  (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 2);
  for (int i = 0; i < 20; ++i) (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().targets.size() == 1);
  CHECK((*pool)->stats().shrunk == 2);
}

TEST_CASE("a draining instance finishes its running requests before it stops") {
  done_count = 0;
  manual_farm farm;
  auto o = manual_pool_options(farm, {1, 1}, 4);
  o.policy = balance_policy::round_robin;
  o.affinity = false;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, "d0");
  submit(**pool, "d1");
  (*pool)->run_pending();
  REQUIRE(farm.at(1)->calls() == 1);
  REQUIRE((*pool)->drain_target("t1"));
  (*pool)->run_pending();
  CHECK(count((*pool)->stats(), target_health::draining) == 1);
  submit(**pool, "d2");  // goes to t0 only
  (*pool)->run_pending();
  CHECK(farm.at(1)->calls() == 1);
  CHECK(farm.at(0)->calls() == 2);
  farm.at(1)->finish(0, "ok");  // its last request: then it stops
  (*pool)->run_pending();
  CHECK((*pool)->stats().targets.size() == 1);
  CHECK(done_count == 1);
  CHECK((*pool)->drain_target("t1").error().code == errc::not_found);
}
