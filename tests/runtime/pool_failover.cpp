// Failover: killing an inference actor mid-generation, a stalled target, a target that stops,
// and a retry that produces other text. Every request must end exactly once, with no piece
// streamed twice.
#include <doctest/doctest.h>

#include <map>

#include "support/manual_target.hpp"

using namespace troupe::runtime;
using troupe::test::manual_farm;
using troupe::test::manual_pool_options;

namespace {

struct outcome {
  std::string streamed;
  int done_calls = 0;
  result<generation_result> last = fail(errc::not_found, "no outcome");
};

void submit(inference_pool& pool, std::map<std::string, outcome>& seen, const std::string& id) {
  generation_request r;
  r.request_id = id;
  r.agent = "agent-" + id;
  r.messages.push_back({"user", "hi"});
  auto* o = &seen[id];
  pool.generate(std::move(r), [o](std::string_view p) { o->streamed += p; },
                [o](result<generation_result> res) {
                  ++o->done_calls;
                  o->last = std::move(res);
                });
}

/// Answers every open call of every target: streams `a` then `b`, finishes with `a + b`.
void answer_all(manual_farm& farm, const std::string& a, const std::string& b) {
  for (std::size_t t = 0; t < farm.size(); ++t) {
    auto m = farm.at(t);
    for (auto i : m->open()) {
      m->piece(i, a);
      m->piece(i, b);
      m->finish(i, a + b);
    }
  }
}

std::size_t healthy(const pool_stats& s) {
  std::size_t n = 0;
  for (const auto& t : s.targets) n += t.health == target_health::up;
  return n;
}

} // namespace

TEST_CASE("killing an inference actor mid-generation still completes every request exactly once") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {1, 1});
  o.policy = balance_policy::round_robin;
  o.affinity = false;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  for (int i = 0; i < 20; ++i) submit(**pool, seen, "k" + std::to_string(i));
  (*pool)->run_pending();
  REQUIRE(farm.at(0)->calls() == 10);
  REQUIRE(farm.at(1)->calls() == 10);
  for (std::size_t t = 0; t < 2; ++t)
    for (auto i : farm.at(t)->open()) farm.at(t)->piece(i, "ab");  // half-way through
  (*pool)->run_pending();
  REQUIRE((*pool)->kill_target("t0"));
  (*pool)->run_pending();
  const auto s = (*pool)->stats();
  CHECK(s.failovers == 10);
  CHECK(healthy(s) == 2);  // t1 and a replacement for t0 (min_count 1)
  CHECK(farm.size() == 3);
  // The dead target's late outcomes must be ignored.
  auto dead = farm.at(0);
  for (auto i : dead->open()) dead->finish(i, "stale");
  // The retries: t1's own requests go on; the moved ones restart and reproduce the text.
  for (std::size_t t = 1; t < farm.size(); ++t) {
    auto m = farm.at(t);
    for (auto i : m->open()) {
      if (t == 1 && i < 10) {
        m->piece(i, "cd");  // already streamed "ab" from this attempt
        m->finish(i, "abcd");
      } else {
        m->piece(i, "ab");  // a retry: held back (already streamed)
        m->piece(i, "cd");
        m->finish(i, "abcd");
      }
    }
  }
  (*pool)->run_pending();
  for (const auto& [id, r] : seen) {
    CAPTURE(id);
    CHECK(r.done_calls == 1);
    REQUIRE(r.last);
    CHECK(r.last->text == "abcd");
    CHECK(r.streamed == "abcd");  // never "ababcd"
  }
  CHECK((*pool)->stats().completed == 20);
  CHECK((*pool)->kill_target("nobody").error().code == errc::not_found);
}

TEST_CASE("a stalled target is marked down and its requests run elsewhere") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {4, 1});
  o.elastic.tick_ms = 100;
  o.stall_timeout_ms = 1000;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "s1");
  (*pool)->run_pending();
  REQUIRE(farm.at(0)->calls() == 1);  // the heavier target
  for (int i = 0; i < 8; ++i) (*pool)->advance_time_ms(100);
  CHECK(seen["s1"].done_calls == 0);   // 800 ms: not a stall yet
  for (int i = 0; i < 5; ++i) (*pool)->advance_time_ms(100);
  CHECK((*pool)->stats().failovers == 1);
  farm.at(0)->finish(0, "stale");  // the stalled target wakes up too late: ignored
  answer_all(farm, "x", "y");
  (*pool)->run_pending();
  CHECK(seen["s1"].done_calls == 1);
  CHECK(seen["s1"].last->text == "xy");
  bool t0_up = false;
  for (const auto& t : (*pool)->stats().targets) t0_up = t0_up || (t.name == "t0" && t.health == target_health::up);
  CHECK_FALSE(t0_up);
}

TEST_CASE("a target that reports it stopped is replaced; requests move") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto pool = make_inference_pool(manual_pool_options(farm, {1}));
  REQUIRE(pool);
  submit(**pool, seen, "p1");
  (*pool)->run_pending();
  farm.at(0)->fail(0, errc::stopped);
  (*pool)->run_pending();
  REQUIRE(farm.size() == 2);  // a fresh instance
  REQUIRE(farm.at(1)->calls() == 1);
  farm.at(1)->finish(0, "fine");
  (*pool)->run_pending();
  CHECK(seen["p1"].done_calls == 1);
  CHECK(seen["p1"].last->text == "fine");
}

TEST_CASE("a retry with other text stops the stream; the result holds the retry's text") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {1, 1});
  o.policy = balance_policy::round_robin;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "d1");
  (*pool)->run_pending();
  farm.at(0)->piece(0, "Hello ");
  farm.at(0)->piece(0, "wor");
  (*pool)->run_pending();
  REQUIRE((*pool)->kill_target("t0"));
  (*pool)->run_pending();
  auto retry = farm.at(1);
  REQUIRE(retry->calls() == 1);
  retry->piece(0, "Hel");
  retry->piece(0, "p me");
  retry->piece(0, " now");
  retry->finish(0, "Help me now");
  (*pool)->run_pending();
  CHECK(seen["d1"].streamed == "Hello wor");
  CHECK(seen["d1"].done_calls == 1);
  CHECK(seen["d1"].last->text == "Help me now");
}

TEST_CASE("after max_attempts failures the request fails once with the reason") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {1});
  o.max_attempts = 2;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "m1");
  (*pool)->run_pending();
  farm.at(0)->fail(0, errc::io);  // retryable, same target (the only one) again
  (*pool)->run_pending();
  REQUIRE(farm.at(0)->calls() == 2);
  farm.at(0)->fail(1, errc::io);
  (*pool)->run_pending();
  CHECK(seen["m1"].done_calls == 1);
  REQUIRE_FALSE(seen["m1"].last);
  CHECK(seen["m1"].last.error().code == errc::agent_failed);
  CHECK(seen["m1"].last.error().message.find("failed on 2 targets") != std::string::npos);
}

TEST_CASE("a target that keeps failing is taken down and replaced") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {1});
  o.max_attempts = 10;
  o.failures_before_down = 3;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "f1");
  (*pool)->run_pending();
  for (std::size_t i = 0; i < 2; ++i) {
    farm.at(0)->fail(i, errc::unavailable);  // retried on the same (only) target
    (*pool)->run_pending();
  }
  CHECK(farm.size() == 1);
  farm.at(0)->fail(2, errc::unavailable);  // the third in a row: down, replaced
  (*pool)->run_pending();
  REQUIRE(farm.size() == 2);
  REQUIRE(farm.at(1)->calls() == 1);
  farm.at(1)->finish(0, "ok");
  (*pool)->run_pending();
  CHECK(seen["f1"].done_calls == 1);
  CHECK(seen["f1"].last->text == "ok");
  CHECK((*pool)->stats().targets.size() == 1);
  CHECK((*pool)->stats().targets[0].name == "t0.2");
}
