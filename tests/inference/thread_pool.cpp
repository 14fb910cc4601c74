#include <doctest/doctest.h>

#include <troupe/inference/thread_pool.hpp>

#include <atomic>
#include <thread>
#include <vector>

using troupe::inference::thread_pool;

TEST_CASE("every task runs exactly once, on a valid thread index") {
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    thread_pool pool(threads);
    CHECK(pool.size() == threads);
    for (std::size_t n : {0u, 1u, 2u, 7u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> bad_thread{false};
      pool.parallel_for(n, [&](std::size_t task, std::size_t thread) {
        hits[task].fetch_add(1);
        if (thread >= pool.size()) bad_thread = true;
      });
      for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
      CHECK_FALSE(bad_thread.load());
    }
  }
}

TEST_CASE("many small calls in a row all complete (the decode pattern)") {
  thread_pool pool(2);
  std::vector<long> partial(pool.size());
  long total = 0;
  for (int call = 0; call < 2000; ++call) {
    std::fill(partial.begin(), partial.end(), 0);
    pool.parallel_for(4, [&](std::size_t task, std::size_t thread) { partial[thread] += static_cast<long>(task) + 1; });
    for (long p : partial) total += p;
  }
  CHECK(total == 2000L * 10);
}

TEST_CASE("calls from two threads are serialised, not mixed") {
  thread_pool pool(2);
  std::atomic<long> sum{0};
  auto caller = [&] {
    for (int i = 0; i < 2000; ++i) pool.parallel_for(3, [&](std::size_t task, std::size_t) { sum += static_cast<long>(task); });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  CHECK(sum.load() == 2L * 2000 * 3);
}

TEST_CASE("default size is the hardware concurrency") {
  thread_pool pool;
  CHECK(pool.size() == std::max(1u, std::thread::hardware_concurrency()));
}
