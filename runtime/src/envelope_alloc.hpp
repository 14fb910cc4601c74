// Recycled memory for shared envelopes (private).
//
// A direct message's envelope is allocated on the sender's thread and freed on the
// receiver's. With glibc's malloc that free lands in the sender's arena under the arena's
// lock, which the sender takes too on each allocation (its own thread cache is always empty):
// a burst then spends a fifth of its time in malloc/free and in futex waits on that lock.
// `block_cache` recycles envelope-sized blocks instead: each thread keeps two magazines of
// free blocks (no lock), and full magazines move between threads through a small depot (one
// lock per `magazine_blocks` blocks). Blocks come from plain `operator new` (16-byte aligned):
// cache-line alignment would save a sixth line now and then, but the aligned allocation
// (memalign) of the blocks a burst needs beyond the cache cost more than that saved.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include "troupe/runtime/envelope.hpp"

namespace troupe::runtime::detail {

/// Recycled blocks of `block_bytes` bytes, aligned to `block_align`. Any thread takes, any
/// thread gives back. Bounded: at most two magazines per thread and `depot_magazines` in the
/// depot are kept; beyond that blocks go back to the heap. A thread's magazines go to the depot
/// (or the heap) when the thread ends.
struct block_cache {
  static constexpr std::size_t block_bytes = 320; ///< a shared envelope and its control block
  static constexpr std::size_t block_align = alignof(std::max_align_t);
  static constexpr std::size_t magazine_blocks = 64;
  static constexpr std::size_t depot_magazines = 64; ///< at most 4096 blocks (1.25 MiB) idle
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool recycles = false; ///< ASan sees each envelope's own allocation and use after free
#else
  static constexpr bool recycles = true;
#endif

  /// A free block (from this thread's magazines, the depot, or the heap).
  static void* take();
  /// Gives back a block that `take` returned.
  static void give(void* block) noexcept;
  /// Blocks now held by the depot (for tests).
  static std::size_t depot_blocks();
};

/// An argument to `allocate_shared` with `envelope_allocator`: the object is initialized from
/// `make()`'s result, which (a prvalue) is built right in the shared block, not moved there.
template <class F>
struct built_by {
  F make;
};

/// Allocator for `std::allocate_shared<envelope>`: single objects that fit a block come from
/// `block_cache`, anything else from the heap.
template <class T>
struct envelope_allocator {
  using value_type = T;
  envelope_allocator() = default;
  template <class U>
  envelope_allocator(const envelope_allocator<U>&) noexcept {}

  static constexpr bool pooled = sizeof(T) <= block_cache::block_bytes && alignof(T) <= block_cache::block_align;

  T* allocate(std::size_t n) {
    if (pooled && n == 1)
      return static_cast<T*>(block_cache::take());
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (pooled && n == 1)
      block_cache::give(p);
    else
      std::allocator<T>{}.deallocate(p, n);
  }
  template <class U, class F>
  void construct(U* p, built_by<F>&& b) {
    ::new (static_cast<void*>(p)) U(b.make()); // guaranteed copy elision
  }
  template <class U, class... A>
  void construct(U* p, A&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(args)...);
  }
  template <class U>
  bool operator==(const envelope_allocator<U>&) const noexcept { return true; }
};

/// A default envelope in a recycled block.
inline std::shared_ptr<envelope> new_envelope() {
  return std::allocate_shared<envelope>(envelope_allocator<envelope>{});
}

/// The envelope `make()` returns, built in place in a recycled block.
template <class F>
std::shared_ptr<envelope> build_envelope(F&& make) {
  return std::allocate_shared<envelope>(envelope_allocator<envelope>{}, built_by<F&>{make});
}

/// `message` moved into a recycled block.
inline std::shared_ptr<envelope> new_envelope(envelope&& message) {
  return std::allocate_shared<envelope>(envelope_allocator<envelope>{}, std::move(message));
}

} // namespace troupe::runtime::detail
