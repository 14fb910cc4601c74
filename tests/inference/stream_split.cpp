// parallel_stream (inference/src/cpu/stream_split.hpp): how one-token products split their
// weight stream over the pool.
#include <doctest/doctest.h>

#include <troupe/inference/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cpu/stream_split.hpp"

using troupe::inference::parallel_stream;
using troupe::inference::thread_pool;

TEST_CASE("every item is covered exactly once, in runs within [0, n)") {
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    thread_pool pool(threads);
    for (std::size_t n : {0u, 1u, 2u, 3u, 5u, 64u, 1001u}) {
      for (std::size_t grain : {0u, 1u, 4u}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<bool> bad_run{false};
        parallel_stream(&pool, n, grain, [&](std::size_t b, std::size_t e) {
          if (b >= e || e > n) bad_run = true;
          for (std::size_t i = b; i < e && i < n; ++i) hits[i].fetch_add(1);
        });
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        CHECK_FALSE(bad_run.load());
        for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
      }
    }
  }
}

TEST_CASE("without a pool the caller gets one run of everything") {
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  parallel_stream(nullptr, 10, 4, [&](std::size_t b, std::size_t e) { runs.emplace_back(b, e); });
  REQUIRE(runs.size() == 1);
  CHECK(runs[0] == std::pair<std::size_t, std::size_t>{0, 10});
}

// Two threads, items [0, 32) part 0 and [32, 64) part 1. The first item of part 0 blocks
// until part 1 is done, so the other thread, once through part 1, must take over the rest of
// part 0 from its back: part 0's items end up run by both threads.
TEST_CASE("a thread done with its part takes over the rest of a slow part") {
  thread_pool pool(2);
  constexpr std::size_t n = 64;
  std::atomic<std::size_t> part1_done{0};
  std::mutex m;
  std::set<std::thread::id> part0_threads;
  std::vector<std::atomic<int>> hits(n);
  parallel_stream(&pool, n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      if (i == 0) {  // the owner of part 0 stalls (a deadline, so a broken split fails, not hangs)
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (part1_done.load() < n / 2 && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (i < n / 2) {
        std::lock_guard lock{m};
        part0_threads.insert(std::this_thread::get_id());
      } else {
        part1_done.fetch_add(1);
      }
      hits[i].fetch_add(1);
    }
  });
  for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
  CHECK(part1_done.load() == n / 2);
  CHECK(part0_threads.size() == 2);
}

// What a helper took over can be taken from it in turn: as above, and then the helper stalls
// on the first item it took over until the owner of part 0 has finished the front it kept, so
// the owner, done, must take back part of the helper's run: items [16, 32) (the back half the
// helper took) end up run by both threads.
TEST_CASE("a run a helper took over can be taken back while the helper stalls") {
  thread_pool pool(2);
  constexpr std::size_t n = 64;
  std::atomic<std::size_t> part1_done{0}, front_done{0};
  std::mutex m;
  std::set<std::thread::id> back_threads;
  std::vector<std::atomic<int>> hits(n);
  const auto wait_for = [](const std::atomic<std::size_t>& count, std::size_t target) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (count.load() < target && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  parallel_stream(&pool, n, 1, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      if (i == 0) wait_for(part1_done, n / 2);    // part 0's owner stalls at once
      if (i == 16) wait_for(front_done, 15);      // the helper stalls on what it took over
      if (i >= 1 && i < 16) front_done.fetch_add(1);
      if (i >= 16 && i < 32) {
        std::lock_guard lock{m};
        back_threads.insert(std::this_thread::get_id());
      }
      if (i >= n / 2) part1_done.fetch_add(1);
      hits[i].fetch_add(1);
    }
  });
  for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
  CHECK(back_threads.size() == 2);
}
