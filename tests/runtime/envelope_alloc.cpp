// Recycled envelope blocks (private header): shared envelopes fit a block, blocks are aligned
// and reused, blocks freed on another thread come back through the depot, and the depot stays
// bounded.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "../../runtime/src/envelope_alloc.hpp"

using troupe::runtime::envelope;
using troupe::runtime::detail::block_cache;
using troupe::runtime::detail::envelope_allocator;
using troupe::runtime::detail::new_envelope;

TEST_CASE("blocks are aligned for any object; a shared envelope fits one and its block is reused") {
  // allocate_shared asks for one control block + envelope (two words of counts and a vtable
  // pointer at most in front of it).
  static_assert(sizeof(envelope) + 2 * sizeof(void*) <= block_cache::block_bytes);
  void* b = block_cache::take();
  CHECK(reinterpret_cast<std::uintptr_t>(b) % block_cache::block_align == 0);
  block_cache::give(b);

  const void* first = nullptr;
  {
    auto e = new_envelope();
    e->content = "hello";
    first = e.get();
  }
  auto again = new_envelope();
  if (block_cache::recycles) // the block just given back is the next one taken (LIFO)
    CHECK(static_cast<const void*>(again.get()) == first);
  CHECK(again->content.empty()); // a fresh envelope, not the old one's fields
  envelope moved;
  moved.content = "moved in";
  moved.metadata["k"] = "v";
  auto m = new_envelope(std::move(moved));
  CHECK(m->content == "moved in");
  CHECK(m->metadata.at("k") == "v");
}

TEST_CASE("blocks freed on another thread come back through the depot, which stays bounded") {
  constexpr std::size_t n = 20 * block_cache::magazine_blocks;
  constexpr std::size_t depot_max = block_cache::depot_magazines * block_cache::magazine_blocks;
  std::vector<std::shared_ptr<const envelope>> made;
  std::set<const void*> addresses;
  for (std::size_t i = 0; i < n; ++i) {
    made.push_back(new_envelope());
    addresses.insert(made.back().get());
  }
  REQUIRE(addresses.size() == n);
  auto before = block_cache::depot_blocks();
  // Freed on a consumer thread: its full magazines go to the depot, and its own two magazines
  // too when it ends.
  std::thread consumer{[&made] { made.clear(); }};
  consumer.join();
  auto after = block_cache::depot_blocks();
  CHECK(after <= depot_max);
  if (!block_cache::recycles)
    return;
  CHECK(after >= before + n - 2 * block_cache::magazine_blocks);
  // This thread takes them back from the depot once its own magazines are empty.
  std::size_t reused = 0;
  for (std::size_t i = 0; i < 4 * block_cache::magazine_blocks; ++i) {
    made.push_back(new_envelope());
    reused += addresses.count(made.back().get());
  }
  CHECK(reused >= 2 * block_cache::magazine_blocks);
  made.clear();

  // Far more blocks than the depot keeps: the surplus goes back to the heap.
  for (std::size_t i = 0; i < 2 * depot_max; ++i)
    made.push_back(new_envelope());
  std::thread spender{[&made] { made.clear(); }};
  spender.join();
  CHECK(block_cache::depot_blocks() <= depot_max);
  CHECK(block_cache::depot_blocks() >= depot_max - 2 * block_cache::magazine_blocks);
}
