#include "engine/kv_cache.hpp"

#include <algorithm>
#include <cassert>

namespace troupe::inference {

namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

} // namespace

kv_cache::kv_cache(std::size_t n_layer, std::size_t n_slots, std::size_t kv_dim, std::size_t block_tokens,
                   std::size_t n_blocks, tensor_type kv_type)
    : pool_(n_blocks, n_layer, block_tokens, kv_dim, kv_type),
      row_bytes_(kv_dim * (kv_type == tensor_type::f32 ? 4 : 2)),
      seqs_(n_slots) {}

std::size_t kv_cache::acquire() {
  for (std::size_t s = 0; s < seqs_.size(); ++s)
    if (!seqs_[s].in_use) {
      seqs_[s].in_use = true;
      return s;
    }
  return seqs_.size();
}

void kv_cache::drop_blocks_from(sequence& s, std::size_t first_block) {
  // The last blocks first: they reach the LRU list before the earlier ones, so eviction takes
  // the tail of a chain before its head (a tail is no use without the blocks before it).
  for (std::size_t i = s.table.size(); i-- > first_block;) pool_.release(s.table[i]);
  if (s.table.size() > first_block) s.table.resize(first_block);
}

void kv_cache::release(std::size_t slot) {
  sequence& s = seqs_[slot];
  drop_blocks_from(s, 0);
  s.tokens.clear();
  s.hashes.clear();
  s.in_use = false;
}

std::size_t kv_cache::attach_prefix(std::size_t slot, std::span<const std::int32_t> tokens) {
  sequence& s = seqs_[slot];
  assert(s.in_use && s.tokens.empty() && s.table.empty());
  const std::size_t bt = block_tokens();
  const std::size_t n_max = tokens.empty() ? 0 : (tokens.size() - 1) / bt;
  std::uint64_t parent = block_pool::root_hash;
  for (std::size_t i = 0; i < n_max; ++i) {
    const auto block = tokens.subspan(i * bt, bt);
    const std::uint64_t h = block_pool::chain_hash(parent, block);
    const auto b = pool_.find(h, parent, block);
    if (!b) break;
    pool_.retain(*b);
    s.table.push_back(*b);
    s.hashes.push_back(h);
    parent = h;
  }
  const std::size_t reused = s.table.size() * bt;
  s.tokens.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(reused));
  hit_tokens_ += reused;
  miss_tokens_ += tokens.size() - reused;
  return reused;
}

std::size_t kv_cache::blocks_needed(const kv_write& w) const {
  const std::size_t bt = block_tokens();
  const sequence& s = seqs_[w.slot];
  const std::size_t kept = ceil_div(w.pos0, bt);  // blocks left after truncating to pos0
  std::size_t need = w.end > kept * bt ? ceil_div(w.end, bt) - kept : 0;
  // Writing into a kept, shared block needs a private copy of it first.
  if (w.end > w.pos0 && w.pos0 % bt != 0 && pool_.refcount(s.table[w.pos0 / bt]) > 1) ++need;
  return need;
}

std::size_t kv_cache::blocks_freed(const kv_write& w) const {
  const sequence& s = seqs_[w.slot];
  std::size_t freed = 0;
  for (std::size_t i = ceil_div(w.pos0, block_tokens()); i < s.table.size(); ++i)
    freed += pool_.refcount(s.table[i]) == 1 ? 1 : 0;
  return freed;
}

bool kv_cache::fits(std::span<const kv_write> writes) const {
  // Conservative where writes interact: a block shared by two truncated slots is counted as
  // neither freed nor (for a copy) unshared.
  std::size_t need = 0, freed = 0;
  for (const auto& w : writes) {
    need += blocks_needed(w);
    freed += blocks_freed(w);
  }
  return need <= pool_.available() + freed;
}

void kv_cache::truncate(const kv_write& w) {
  sequence& s = seqs_[w.slot];
  const std::size_t bt = block_tokens();
  if (w.pos0 >= s.tokens.size()) return;
  s.tokens.resize(w.pos0);
  s.hashes.resize(std::min(s.hashes.size(), w.pos0 / bt));
  drop_blocks_from(s, ceil_div(w.pos0, bt));
}

bool kv_cache::reserve(const kv_write& w) {
  sequence& s = seqs_[w.slot];
  const std::size_t bt = block_tokens();
  if (w.end > w.pos0 && w.pos0 % bt != 0) {
    // The block written into is partly kept: it must be this sequence's alone and out of the
    // prefix index (whose entries are never written).
    block_id& b = s.table[w.pos0 / bt];
    if (pool_.refcount(b) > 1) {
      const auto copy = pool_.allocate();
      if (!copy) return false;
      pool_.copy(*copy, b);
      pool_.release(b);
      b = *copy;
    } else {
      pool_.unregister(b);
    }
  }
  while (s.table.size() < ceil_div(w.end, bt)) {
    const auto b = pool_.allocate();
    if (!b) return false;
    s.table.push_back(*b);
  }
  return true;
}

void kv_cache::commit(std::size_t slot, std::size_t pos0, std::span<const std::int32_t> tokens) {
  sequence& s = seqs_[slot];
  const std::size_t bt = block_tokens();
  s.tokens.resize(pos0);
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  for (std::size_t i = s.hashes.size(); (i + 1) * bt <= s.tokens.size(); ++i) {
    const std::uint64_t parent = i == 0 ? block_pool::root_hash : s.hashes[i - 1];
    const std::span<const std::int32_t> block(s.tokens.data() + i * bt, bt);
    const std::uint64_t h = block_pool::chain_hash(parent, block);
    block_id& b = s.table[i];
    assert(!pool_.registered(b));
    if (const auto same = pool_.register_block(b, h, parent, block)) {
      // Another sequence computed these tokens already: share its block, free ours.
      pool_.retain(*same);
      pool_.release(b);
      b = *same;
    }
    s.hashes.push_back(h);
  }
}

} // namespace troupe::inference
