// How a one-token matrix product (decode) splits its weights over the pool. Such a product
// streams every weight once from memory and is bound by how fast each core's stream runs; a
// stream that starts anew costs a hardware-prefetcher ramp-up, so many small tasks (what
// balances best for cached data) waste bandwidth. Here each thread owns one contiguous part
// and walks it from the front; a thread that is done moves the back half of what is left of
// another part into its own and walks that (again and again; what it moved can be taken from
// it in turn), so the threads still finish together when one of them is slowed down or
// preempted.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>

namespace troupe::inference {

class thread_pool;

/// fn(begin, end) for contiguous runs covering items [0, n) exactly once, on `pool` (nullptr:
/// the caller alone, one call for everything). `grain`: items a thread claims at a time from
/// the front of its own part; 1 near the end of it. Runs of one thread's own part come in
/// increasing order. Preconditions: n < 2^32, fn safe to call from the pool's threads.
void parallel_stream(thread_pool* pool, std::size_t n, std::size_t grain,
                     const std::function<void(std::size_t begin, std::size_t end)>& fn);

/// The part that parallel_stream(pool, n, ...) gives task `p` first: items [first, second).
/// With `pool` null or one thread, everything is part 0.
std::pair<std::size_t, std::size_t> stream_part(const thread_pool* pool, std::size_t n, std::size_t p);

} // namespace troupe::inference
