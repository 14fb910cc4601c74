// Bounded mailboxes: each overflow policy with its counters, and a threaded flood.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

namespace {
runtime_config det() { return troupe::test::deterministic_config(1000); }

/// Sends 0..n-1 from the host before the agent runs (nothing runs until run_pending).
std::vector<int> flood(runtime& rt, overflow_policy policy, int n, int& refused) {
  std::vector<int> got;
  REQUIRE(rt.spawn(named("slow", 10, policy), fn_factory([&got](agent_context&, const envelope& m) {
    got.push_back(std::stoi(m.content));
  })));
  rt.run_pending();
  refused = 0;
  for (int i = 0; i < n; ++i) {
    auto r = rt.send("slow", std::to_string(i));
    if (!r) {
      CHECK(r.error().code == errc::mailbox_full);
      ++refused;
    }
  }
  auto s = rt.stats("slow");
  REQUIRE(s);
  CHECK(s->depth == 10);
  CHECK(s->high_water == 10);
  rt.run_pending();
  return got;
}

int count_events(const runtime& rt, event_type type) {
  int n = 0;
  for (const auto& e : rt.transcript())
    n += e.type == type ? 1 : 0;
  return n;
}
} // namespace

TEST_CASE("reject: the sender gets mailbox_full, the first messages are kept") {
  runtime rt{det()};
  int refused = 0;
  auto got = flood(rt, overflow_policy::reject, 100, refused);
  CHECK(refused == 90);
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto s = *rt.stats("slow");
  CHECK(s.accepted == 10);
  CHECK(s.rejected == 90);
  CHECK(s.dropped == 0);
  CHECK(s.processed == 10);
  CHECK(s.depth == 0);
  CHECK(count_events(rt, event_type::rejected) == 90);
}

TEST_CASE("drop_newest: sends succeed, the arriving messages are dropped") {
  runtime rt{det()};
  int refused = 0;
  auto got = flood(rt, overflow_policy::drop_newest, 100, refused);
  CHECK(refused == 0);
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto s = *rt.stats("slow");
  CHECK(s.dropped == 90);
  CHECK(s.rejected == 0);
  CHECK(s.processed == 10);
  CHECK(count_events(rt, event_type::dropped) == 90);
}

TEST_CASE("drop_oldest: the newest messages are kept") {
  runtime rt{det()};
  int refused = 0;
  auto got = flood(rt, overflow_policy::drop_oldest, 100, refused);
  CHECK(refused == 0);
  CHECK(got == std::vector<int>{90, 91, 92, 93, 94, 95, 96, 97, 98, 99});
  auto s = *rt.stats("slow");
  CHECK(s.dropped == 90);
  CHECK(s.accepted == 100);
  CHECK(s.processed == 10);
}

TEST_CASE("a threaded flood stays within capacity and every message is accounted for") {
  runtime_config cfg;
  cfg.scheduler_threads = 2;
  runtime rt{cfg};
  constexpr int senders = 4, per_sender = 20'000;
  constexpr std::size_t capacity = 64;
  std::atomic<int> handled{0};
  REQUIRE(rt.spawn(named("sink", capacity, overflow_policy::drop_newest),
                   fn_factory([&handled](agent_context&, const envelope&) { ++handled; })));
  for (int i = 0; i < senders; ++i)
    REQUIRE(rt.spawn(named("s" + std::to_string(i)), fn_factory([](agent_context& ctx, const envelope&) {
      for (int k = 0; k < per_sender; ++k)
        REQUIRE(ctx.send("sink", "payload payload payload"));
      ctx.send("sink", "done");
    })));
  for (int i = 0; i < senders; ++i)
    REQUIRE(rt.send("s" + std::to_string(i), "go"));
  // Wait until the sink has drained and handled everything it accepted: `processed` counts at
  // the pop, `handled` after the handler, so both are waited for. The wait is bounded by a
  // generous deadline (a hang fails; how long it took is not asserted): a count of yields ran
  // out on a loaded machine under ASan.
  mailbox_stats s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{120};
  while (std::chrono::steady_clock::now() < deadline) {
    s = *rt.stats("sink");
    if (s.accepted + s.dropped == senders * (per_sender + 1) && s.depth == 0 &&
        s.processed == s.accepted && static_cast<std::uint64_t>(handled.load()) == s.processed)
      break;
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  CHECK(s.accepted + s.dropped == senders * (per_sender + 1));
  CHECK(s.high_water <= capacity);
  CHECK(s.processed == s.accepted);
  CHECK(static_cast<std::uint64_t>(handled.load()) == s.processed);
}
