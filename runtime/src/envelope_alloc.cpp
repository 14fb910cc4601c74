#include "envelope_alloc.hpp"

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace troupe::runtime::detail {
namespace {

constexpr bool recycle = block_cache::recycles;

void* heap_block() { return ::operator new(block_cache::block_bytes); }

void heap_free(void* block) noexcept {
  ::operator delete(block, block_cache::block_bytes);
}

/// Asks for every cache line of `block` for writing.
void prefetch_for_write(const void* block) {
  constexpr std::uintptr_t line = 64;
  auto at = reinterpret_cast<std::uintptr_t>(block) & ~(line - 1);
  auto end = reinterpret_cast<std::uintptr_t>(block) + block_cache::block_bytes;
  for (; at < end; at += line)
    __builtin_prefetch(reinterpret_cast<const void*>(at), 1);
}

/// Free blocks chained through their first word.
struct magazine {
  struct node {
    node* next;
  };
  node* head = nullptr;
  std::size_t count = 0;

  bool empty() const { return count == 0; }
  bool full() const { return count == block_cache::magazine_blocks; }
  void push(void* block) noexcept {
    auto* n = static_cast<node*>(block);
    n->next = head;
    head = n;
    ++count;
  }
  void* pop() noexcept {
    auto* n = head;
    head = n->next;
    --count;
    return n;
  }
  void free_all() noexcept {
    while (!empty())
      heap_free(pop());
  }
};

/// Full magazines shared by all threads (pushed by threads that free more than they take,
/// popped by threads that take more than they free); when `depot_magazines` are held, a
/// further magazine's blocks go back to the heap.
class depot {
public:
  depot() { full_.reserve(block_cache::depot_magazines); }
  void put(magazine&& m) noexcept {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (full_.size() < block_cache::depot_magazines) {
        full_.push_back(std::exchange(m, magazine{}));
        return;
      }
    }
    m.free_all();
  }
  bool get(magazine& out) noexcept {
    std::lock_guard<std::mutex> guard{mutex_};
    if (full_.empty())
      return false;
    out = full_.back();
    full_.pop_back();
    return true;
  }
  std::size_t blocks() {
    std::lock_guard<std::mutex> guard{mutex_};
    std::size_t n = 0;
    for (const auto& m : full_)
      n += m.count;
    return n;
  }

private:
  std::mutex mutex_;
  std::vector<magazine> full_; ///< reserved up front: `put` never allocates
};

/// Never destroyed: threads may give blocks back during static destruction.
depot& the_depot() {
  static depot* d = new depot; // NOLINT: intentionally immortal (reachable, not a leak)
  return *d;
}

/// One thread's magazines (two, so that a thread alternating takes and gives at a magazine
/// boundary does not go to the depot each time). Trivially destructible, so a plain TLS access
/// reaches it; `reaper` hands its blocks to the depot when the thread ends.
struct thread_cache {
  magazine loaded;
  magazine previous;
  bool registered = false; ///< the reaper is armed
  bool dead = false;       ///< the thread is ending: take and give use the heap
};
constinit thread_local thread_cache cache;

struct reaper {
  ~reaper() {
    cache.dead = true;
    cache.registered = false;
    for (auto* m : {&cache.loaded, &cache.previous})
      if (!m->empty())
        the_depot().put(std::move(*m));
  }
};

/// Arms this thread's reaper (constructing a thread_local with a destructor registers it).
void arm_reaper() {
  thread_local reaper r;
  (void)r;
  cache.registered = true;
}

} // namespace

void* block_cache::take() {
  if constexpr (!recycle)
    return heap_block();
  auto& c = cache;
  if (c.dead) [[unlikely]]
    return heap_block();
  if (c.loaded.empty()) {
    if (!c.previous.empty())
      std::swap(c.loaded, c.previous);
    else {
      if (!c.registered) // blocks are held only once the reaper will give them back
        arm_reaper();
      if (!the_depot().get(c.loaded))
        return heap_block();
    }
  }
  void* block = c.loaded.pop();
  // Blocks were most likely last written on another core (a receiver freed them): ask for all
  // of the next block's lines for writing now, so that they arrive while this one is used
  // (this one's were asked for by the previous take).
  if (c.loaded.head)
    prefetch_for_write(c.loaded.head);
  return block;
}

void block_cache::give(void* block) noexcept {
  if constexpr (!recycle) {
    heap_free(block);
    return;
  }
  auto& c = cache;
  if (!c.registered) [[unlikely]] {
    if (c.dead) {
      heap_free(block);
      return;
    }
    arm_reaper();
  }
  if (c.loaded.full()) {
    if (!c.previous.empty())
      the_depot().put(std::move(c.previous));
    c.previous = std::exchange(c.loaded, magazine{});
  }
  c.loaded.push(block);
}

std::size_t block_cache::depot_blocks() { return the_depot().blocks(); }

} // namespace troupe::runtime::detail
