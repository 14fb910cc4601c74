// The inference pool on hand-driven test targets (deterministic actor system): distribution
// by weight, session affinity, admission (overload), cancellation, streaming, exactly-once.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <thread>

#include "support/manual_target.hpp"

using namespace troupe::runtime;
using troupe::test::manual_farm;
using troupe::test::manual_pool_options;

namespace {

/// What a test saw of one request.
struct outcome {
  std::string streamed;
  int done_calls = 0;
  result<generation_result> last = fail(errc::not_found, "no outcome");
};

generation_request make_request(const std::string& id, const std::string& agent = "a") {
  generation_request r;
  r.request_id = id;
  r.agent = agent;
  r.messages.push_back({"user", "hello"});
  r.sampling.max_tokens = 8;
  return r;
}

void submit(inference_pool& pool, std::map<std::string, outcome>& seen, const std::string& id,
            const std::string& agent = "a") {
  auto* o = &seen[id];
  pool.generate(make_request(id, agent), [o](std::string_view p) { o->streamed += p; },
                [o](result<generation_result> r) {
                  ++o->done_calls;
                  o->last = std::move(r);
                });
}

std::size_t target_of(manual_farm& farm, const std::string& id) {
  for (std::size_t t = 0; t < farm.size(); ++t)
    for (std::size_t i = 0; i < farm.at(t)->calls(); ++i)
      if (farm.at(t)->request_id(i) == id) return t;
  return SIZE_MAX;
}

} // namespace

TEST_CASE("the pool spreads 10,000 requests by weight within 5% (weighted_random)") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1, 2, 4});
  o.policy = balance_policy::weighted_random;
  o.affinity = false;
  o.seed = 3;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  for (int i = 0; i < 10000; ++i) {
    submit(**pool, seen, "r" + std::to_string(i));
    (*pool)->run_pending();
    if (i % 100 == 99) {  // answer in batches, so that requests also overlap
      for (std::size_t t = 0; t < 3; ++t)
        for (auto k : farm.at(t)->open()) farm.at(t)->finish(k, "ok");
      (*pool)->run_pending();
    }
  }
  std::vector<double> share;
  for (std::size_t t = 0; t < 3; ++t) share.push_back(static_cast<double>(farm.at(t)->calls()) / 10000.0);
  CHECK(share[0] == doctest::Approx(1.0 / 7).epsilon(0.05));
  CHECK(share[1] == doctest::Approx(2.0 / 7).epsilon(0.05));
  CHECK(share[2] == doctest::Approx(4.0 / 7).epsilon(0.05));
  for (const auto& [id, s] : seen) CHECK(s.done_calls == 1);
  CHECK((*pool)->stats().completed == 10000);
}

TEST_CASE("session affinity keeps an agent on its target; other agents still spread") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1, 1, 1});
  o.policy = balance_policy::round_robin;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  for (int i = 0; i < 9; ++i) {
    submit(**pool, seen, "alice" + std::to_string(i), "alice");
    submit(**pool, seen, "bob" + std::to_string(i), "bob");
    (*pool)->run_pending();
  }
  const auto alice = target_of(farm, "alice0"), bob = target_of(farm, "bob0");
  CHECK(alice != bob);
  for (int i = 1; i < 9; ++i) {
    CHECK(target_of(farm, "alice" + std::to_string(i)) == alice);
    CHECK(target_of(farm, "bob" + std::to_string(i)) == bob);
  }
}

TEST_CASE("affinity falls back when the session's target is full") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1, 1}, 1);
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "x1", "alice");
  (*pool)->run_pending();
  submit(**pool, seen, "x2", "alice");  // its target has no free slot: the other one
  (*pool)->run_pending();
  CHECK(target_of(farm, "x1") != target_of(farm, "x2"));
}

TEST_CASE("a full pool answers with an explicit overloaded error and a retry hint") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1}, 1);
  o.queue_capacity = 2;
  o.retry_after_ms = 250;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  for (int i = 0; i < 4; ++i) submit(**pool, seen, "q" + std::to_string(i));
  (*pool)->run_pending();
  CHECK(farm.at(0)->calls() == 1);  // one running, two queued, one refused
  CHECK(seen["q3"].done_calls == 1);
  REQUIRE_FALSE(seen["q3"].last);
  CHECK(seen["q3"].last.error().code == errc::overloaded);
  CHECK(seen["q3"].last.error().message.find("retry after 250 ms") != std::string::npos);
  CHECK((*pool)->stats().queued == 2);
  CHECK((*pool)->stats().overloaded == 1);
  farm.at(0)->finish(0, "done");  // a slot frees: the next queued request starts
  (*pool)->run_pending();
  CHECK(farm.at(0)->calls() == 2);
  CHECK(seen["q0"].last);
}

TEST_CASE("cancellation ends the request at once and frees its slot for the next") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1}, 1);
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  submit(**pool, seen, "c1");
  submit(**pool, seen, "c2");
  (*pool)->run_pending();
  REQUIRE(farm.at(0)->calls() == 1);
  (*pool)->cancel("c1");
  (*pool)->run_pending();
  CHECK(seen["c1"].done_calls == 1);
  REQUIRE_FALSE(seen["c1"].last);
  CHECK(seen["c1"].last.error().code == errc::cancelled);
  CHECK(farm.at(0)->cancelled() == std::vector<std::string>{"c1"});
  CHECK(farm.at(0)->calls() == 2);  // c2 took the freed slot
  CHECK(farm.at(0)->request_id(1) == "c2");
  farm.at(0)->finish(0, "late");  // the cancelled attempt's late outcome is ignored
  (*pool)->run_pending();
  CHECK(seen["c1"].done_calls == 1);
  (*pool)->cancel("c2-unknown");  // unknown ids are ignored
  (*pool)->cancel("c2");
  (*pool)->run_pending();
  CHECK(seen["c2"].last.error().code == errc::cancelled);
  CHECK((*pool)->stats().cancelled == 2);
}

TEST_CASE("pieces stream in order and done comes once; a duplicate running id is refused") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto pool = make_inference_pool(manual_pool_options(farm, {1}));
  REQUIRE(pool);
  submit(**pool, seen, "s1");
  (*pool)->run_pending();
  outcome dup;
  (*pool)->generate(make_request("s1"), {}, [&dup](result<generation_result> r) {
    ++dup.done_calls;
    dup.last = std::move(r);
  });
  (*pool)->run_pending();
  CHECK(dup.done_calls == 1);
  CHECK(dup.last.error().code == errc::invalid_argument);
  auto t = farm.at(0);
  t->piece(0, "Hel");
  t->piece(0, "lo");
  t->finish(0, "Hello");
  (*pool)->run_pending();
  CHECK(seen["s1"].streamed == "Hello");
  CHECK(seen["s1"].done_calls == 1);
  CHECK(seen["s1"].last->text == "Hello");
}

TEST_CASE("bad options are refused; shutdown ends requests and later ones fail") {
  manual_farm farm;
  std::map<std::string, outcome> seen;  // before the pool: outlives its callbacks
  auto o = manual_pool_options(farm, {1, 1});
  o.targets[1].name = "t0";
  CHECK(make_inference_pool(o).error().code == errc::invalid_argument);
  o = manual_pool_options(farm, {1});
  o.targets[0].kind = "nope";
  CHECK(make_inference_pool(o).error().code == errc::unknown_kind);
  o = manual_pool_options(farm, {0});
  CHECK(make_inference_pool(o).error().code == errc::invalid_argument);
  auto pool = make_inference_pool(manual_pool_options(farm, {1}));
  REQUIRE(pool);
  submit(**pool, seen, "z1");
  (*pool)->run_pending();
  (*pool)->shutdown();
  CHECK(seen["z1"].last.error().code == errc::stopped);
  submit(**pool, seen, "z2");
  CHECK(seen["z2"].last.error().code == errc::stopped);
  CHECK(seen["z1"].done_calls == 1);
}

TEST_CASE("a request past its deadline ends with a timeout, queued or running") {
  manual_farm farm;
  std::map<std::string, outcome> seen;
  auto o = manual_pool_options(farm, {1}, 1);
  o.elastic.tick_ms = 100;
  o.stall_timeout_ms = 0;
  auto pool = make_inference_pool(o);
  REQUIRE(pool);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto late = make_request("late");
  late.deadline_ms = now_ms - 1;
  auto* l = &seen["late"];
  (*pool)->generate(late, {}, [l](result<generation_result> r) {
    ++l->done_calls;
    l->last = std::move(r);
  });
  (*pool)->run_pending();
  CHECK(seen["late"].last.error().code == errc::timeout);
  CHECK(farm.at(0)->calls() == 0);
  // Deadlines are wall-clock times: let 50 ms pass for real, then let a tick look.
  for (const char* id : {"run", "queued"}) {
    auto r = make_request(id);
    r.deadline_ms = now_ms + 50;
    auto* x = &seen[id];
    (*pool)->generate(r, {}, [x](result<generation_result> res) {
      ++x->done_calls;
      x->last = std::move(res);
    });
  }
  (*pool)->run_pending();
  REQUIRE(farm.at(0)->calls() == 1);
  while (std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count() <= now_ms + 60)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (*pool)->advance_time_ms(100);
  CHECK(seen["run"].done_calls == 1);
  CHECK(seen["run"].last.error().code == errc::timeout);
  CHECK(seen["queued"].last.error().code == errc::timeout);
  CHECK(farm.at(0)->cancelled() == std::vector<std::string>{"run"});
}
