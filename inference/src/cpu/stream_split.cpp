#include "cpu/stream_split.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>

#include "troupe/inference/thread_pool.hpp"

namespace troupe::inference {

namespace {

// What is left of one thread's part: [front, back) as front << 32 | back, so that the owner
// (taking from the front) and a helper (taking from the back) claim with one CAS each. Own
// cache line, so the owner's claims do not bounce another part's line.
struct alignas(64) part_span {
  std::atomic<std::uint64_t> v{0};
};

constexpr std::uint64_t span_of(std::uint64_t front, std::uint64_t back) { return front << 32 | back; }
constexpr std::uint64_t front_of(std::uint64_t s) { return s >> 32; }
constexpr std::uint64_t back_of(std::uint64_t s) { return s & 0xffffffffu; }

std::size_t parts_of(const thread_pool* pool, std::size_t n) { return pool == nullptr ? 1 : std::min(pool->size(), n); }

} // namespace

std::pair<std::size_t, std::size_t> stream_part(const thread_pool* pool, std::size_t n, std::size_t p) {
  const std::size_t parts = std::max<std::size_t>(parts_of(pool, n), 1);
  if (p >= parts) return {n, n};
  return {n * p / parts, n * (p + 1) / parts};
}

void parallel_stream(thread_pool* pool, std::size_t n, std::size_t grain,
                     const std::function<void(std::size_t, std::size_t)>& fn) {
  assert(n < (std::uint64_t{1} << 32));
  const std::size_t parts = parts_of(pool, n);
  if (parts <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  grain = std::max<std::size_t>(grain, 1);
  // The caller's (parallel_for blocks until every task is done); workers only use it.
  thread_local std::unique_ptr<part_span[]> spans;
  thread_local std::size_t capacity = 0;
  if (capacity < parts) {
    spans = std::make_unique<part_span[]>(parts);
    capacity = parts;
  }
  part_span* const ps = spans.get();
  for (std::size_t p = 0; p < parts; ++p) {
    const auto [front, back] = stream_part(pool, n, p);
    ps[p].v.store(span_of(front, back), std::memory_order_relaxed);
  }
  // Relaxed claims suffice: the items' inputs are read-only during the call, their outputs
  // disjoint, and parallel_for's own synchronization publishes the spans and the results.
  pool->parallel_for(parts, [&](std::size_t part, std::size_t) {
    std::atomic<std::uint64_t>& own = ps[part].v;
    for (;;) {
      // The thread's own span, from the front.
      for (std::uint64_t s = own.load(std::memory_order_relaxed); front_of(s) < back_of(s);) {
        const std::uint64_t f = front_of(s), take = back_of(s) - f > 2 * grain ? grain : 1;
        if (own.compare_exchange_weak(s, span_of(f + take, back_of(s)), std::memory_order_relaxed)) {
          fn(f, f + take);
          s = own.load(std::memory_order_relaxed);
        }
      }
      // Empty: move the back half of what another thread has left into its own span (the
      // owner keeps the front it is streaming), where others can take from it in turn (a
      // thread preempted right after taking it holds no more than a grain).
      bool took = false;
      for (std::size_t i = 1; i < parts && !took; ++i) {
        std::atomic<std::uint64_t>& other = ps[(part + i) % parts].v;
        for (std::uint64_t s = other.load(std::memory_order_relaxed); front_of(s) < back_of(s);) {
          const std::uint64_t f = front_of(s), b = back_of(s), mid = b - (b - f + 1) / 2;
          if (other.compare_exchange_weak(s, span_of(f, mid), std::memory_order_relaxed)) {
            own.store(span_of(mid, b), std::memory_order_relaxed);
            took = true;
            break;
          }
        }
      }
      if (!took) return;
    }
  });
}

} // namespace troupe::inference
