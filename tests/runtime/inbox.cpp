// The bounded inbox on its own (private header): FIFO order through growth and the inline
// slot, overflow policies with exact counters, concurrent producers against a consumer, and
// the inbox's one-word mutex.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../runtime/src/inbox.hpp"

using troupe::runtime::envelope;
using troupe::runtime::mailbox_options;
using troupe::runtime::overflow_policy;
using troupe::runtime::detail::bounded_inbox;

namespace {

std::shared_ptr<const envelope> make(std::string content) {
  auto e = std::make_shared<envelope>();
  e->content = std::move(content);
  return e;
}

bounded_inbox::outcome push(bounded_inbox& inbox, std::string content) {
  auto e = make(std::move(content));
  return inbox.push(std::move(e), nullptr).what;
}

/// Pops everything; the contents in order.
std::vector<std::string> drain(bounded_inbox& inbox) {
  std::vector<std::string> out;
  std::shared_ptr<const envelope> e;
  bool last = false;
  while (inbox.pop(e, last))
    out.push_back(e->content);
  return out;
}

} // namespace

TEST_CASE("FIFO through growth (inline slot, 2, 4, ...) and back to the inline slot") {
  bounded_inbox inbox{{100, overflow_policy::reject}};
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> want;
    for (int i = 0; i < 37; ++i) {
      want.push_back(std::to_string(round) + ":" + std::to_string(i));
      REQUIRE(push(inbox, want.back()) == bounded_inbox::outcome::queued);
    }
    CHECK(drain(inbox) == want);
    // alternate one push, one pop: the single-slot path
    for (int i = 0; i < 5; ++i) {
      REQUIRE(push(inbox, "x" + std::to_string(i)) == bounded_inbox::outcome::queued);
      CHECK(drain(inbox) == std::vector<std::string>{"x" + std::to_string(i)});
    }
  }
  auto s = inbox.stats();
  CHECK(s.accepted == 3 * 42);
  CHECK(s.processed == 3 * 42);
  CHECK(s.depth == 0);
  CHECK(s.high_water == 37);
}

TEST_CASE("overflow policies keep exact counters, with the ring wrapped around") {
  SUBCASE("reject") {
    bounded_inbox inbox{{3, overflow_policy::reject}};
    REQUIRE(push(inbox, "a") == bounded_inbox::outcome::queued);
    std::shared_ptr<const envelope> e;
    bool last = false;
    REQUIRE(inbox.pop(e, last)); // head moves: later pushes wrap
    for (const char* c : {"b", "c", "d"})
      REQUIRE(push(inbox, c) == bounded_inbox::outcome::queued);
    CHECK(push(inbox, "e") == bounded_inbox::outcome::rejected);
    CHECK(drain(inbox) == std::vector<std::string>{"b", "c", "d"});
    auto s = inbox.stats();
    CHECK(s.accepted == 4);
    CHECK(s.rejected == 1);
    CHECK(s.dropped == 0);
    CHECK(s.processed == 4);
  }
  SUBCASE("drop_oldest") {
    bounded_inbox inbox{{3, overflow_policy::drop_oldest}};
    std::vector<std::string> evicted;
    for (int i = 0; i < 10; ++i) {
      auto r = inbox.push(make(std::to_string(i)), nullptr);
      if (r.evicted)
        evicted.push_back(r.evicted->content);
    }
    CHECK(evicted == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6"});
    CHECK(drain(inbox) == std::vector<std::string>{"7", "8", "9"});
    auto s = inbox.stats();
    CHECK(s.dropped == 7);
    CHECK(s.accepted == 10);
    CHECK(s.high_water == 3);
  }
  SUBCASE("drop_newest with capacity 1 (the inline slot only)") {
    bounded_inbox inbox{{1, overflow_policy::drop_newest}};
    CHECK(push(inbox, "a") == bounded_inbox::outcome::queued);
    CHECK(push(inbox, "b") == bounded_inbox::outcome::dropped_newest);
    CHECK(drain(inbox) == std::vector<std::string>{"a"});
    CHECK(inbox.stats().dropped == 1);
  }
  SUBCASE("closed") {
    bounded_inbox inbox{{4, overflow_policy::reject}};
    REQUIRE(push(inbox, "a") == bounded_inbox::outcome::queued);
    inbox.close();
    auto e = make("b");
    CHECK(inbox.push(std::move(e), nullptr).what == bounded_inbox::outcome::closed);
    CHECK(e); // the caller still holds it
    CHECK(drain(inbox).empty());
  }
}

TEST_CASE("concurrent producers and a consumer: no loss, per-producer order, exact counters") {
  for (auto policy : {overflow_policy::reject, overflow_policy::drop_oldest, overflow_policy::drop_newest}) {
    CAPTURE(policy);
    constexpr int producers = 4, per_producer = 20'000;
    constexpr std::size_t capacity = 16;
    bounded_inbox inbox{{capacity, policy}};
    std::atomic<int> finished{0};
    std::atomic<long> refused{0}, evicted{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
      threads.emplace_back([&inbox, &finished, &refused, &evicted, p] {
        for (int i = 0; i < per_producer; ++i) {
          auto r = inbox.push(make(std::to_string(p) + ":" + std::to_string(i)), nullptr);
          if (r.what == bounded_inbox::outcome::rejected)
            refused.fetch_add(1);
          if (r.evicted)
            evicted.fetch_add(1);
        }
        finished.fetch_add(1);
      });
    std::vector<int> next_seq(producers, -1);
    long popped = 0;
    bool ordered = true;
    std::shared_ptr<const envelope> e;
    bool last = false;
    for (;;) {
      bool done = finished.load() == producers; // read before popping: nothing comes after
      bool any = false;
      while (inbox.pop(e, last)) {
        any = true;
        ++popped;
        auto colon = e->content.find(':');
        int p = std::stoi(e->content.substr(0, colon));
        int seq = std::stoi(e->content.substr(colon + 1));
        ordered = ordered && seq > next_seq[static_cast<std::size_t>(p)];
        next_seq[static_cast<std::size_t>(p)] = seq;
      }
      if (done && !any)
        break;
      std::this_thread::yield();
    }
    for (auto& t : threads)
      t.join();
    CHECK(ordered);
    auto s = inbox.stats();
    const long total = static_cast<long>(producers) * per_producer;
    CHECK(s.depth == 0);
    CHECK(s.high_water <= capacity);
    CHECK(static_cast<long>(s.processed) == popped);
    CHECK(static_cast<long>(s.rejected) == refused.load());
    CHECK(static_cast<long>(s.dropped) == evicted.load());
    if (policy == overflow_policy::reject)
      CHECK(static_cast<long>(s.accepted) + refused.load() == total);
    else if (policy == overflow_policy::drop_newest)
      CHECK(static_cast<long>(s.accepted) + evicted.load() == total); // the arriving one is dropped
    else
      CHECK(static_cast<long>(s.accepted) == total); // drop_oldest: every arrival enters
    // every accepted envelope either reached the consumer or was evicted by drop_oldest
    CHECK(popped + (policy == overflow_policy::drop_oldest ? evicted.load() : 0) == static_cast<long>(s.accepted));
  }
}

TEST_CASE("small_mutex: mutual exclusion under contention (sleepers are woken)") {
  troupe::runtime::detail::small_mutex mutex;
  long counter = 0; // plain: only the mutex protects it
  constexpr int threads = 4, rounds = 50'000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&mutex, &counter] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard<troupe::runtime::detail::small_mutex> guard{mutex};
        ++counter;
        if (i % 1000 == 0) // hold it a while now and then, so that waiters go to sleep
          std::this_thread::yield();
      }
    });
  for (auto& t : pool)
    t.join();
  CHECK(counter == static_cast<long>(threads) * rounds);
}
