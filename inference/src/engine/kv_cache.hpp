// The paged KV cache of a context: sequence slots, each with a block table into a shared
// block_pool (positions p of a sequence live in block table[p / block_tokens] at row
// p % block_tokens), the tokens it holds, and the chained hashes of its full blocks.
//
// Writing: a batch first checks that every entry fits (fits()), then prepare() truncates a
// rewound sequence, detaches the block it will write into when that block is shared or
// registered, and allocates the blocks for the new positions; the forward pass writes the
// keys and values; commit() records the tokens and registers the blocks that became full in
// the prefix index, so that later sequences with the same prefix can share them
// (attach_prefix()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/block_pool.hpp"

namespace troupe::inference {

/// One entry of a batch as the cache sees it: sequence `slot` gets positions [pos0, end).
struct kv_write {
  std::size_t slot, pos0, end;
};

/// Sequence slots over a block pool. Used by one thread (the context's caller).
class kv_cache {
public:
  kv_cache(std::size_t n_layer, std::size_t n_slots, std::size_t kv_dim, std::size_t block_tokens,
           std::size_t n_blocks, tensor_type kv_type);

  [[nodiscard]] block_pool& pool() { return pool_; }
  [[nodiscard]] const block_pool& pool() const { return pool_; }
  [[nodiscard]] std::size_t block_tokens() const { return pool_.block_tokens(); }
  [[nodiscard]] std::size_t n_slots() const { return seqs_.size(); }
  [[nodiscard]] bool in_use(std::size_t slot) const { return seqs_[slot].in_use; }
  [[nodiscard]] std::size_t length(std::size_t slot) const { return seqs_[slot].tokens.size(); }
  /// Block table of a slot: block of positions [i * block_tokens, (i + 1) * block_tokens).
  [[nodiscard]] std::span<const block_id> table(std::size_t slot) const { return seqs_[slot].table; }

  /// A free slot, marked in use and empty, or n_slots() when none is free.
  std::size_t acquire();
  /// Empties a slot and gives back its blocks (registered ones stay cached).
  void release(std::size_t slot);

  /// For an empty slot: shares the longest chain of registered blocks that matches the
  /// start of `tokens`, keeping at least one token of `tokens` out (so that computing the rest
  /// yields logits). Returns the positions now in the slot (a multiple of block_tokens).
  std::size_t attach_prefix(std::size_t slot, std::span<const std::int32_t> tokens);

  /// Blocks that making `w` writable allocates (pos0 <= length): the blocks past those kept
  /// after truncating to pos0, plus a private copy of a kept block shared with another slot
  /// that `w` writes into. Exact for one write; a batch may need fewer (a rewind can unshare).
  [[nodiscard]] std::size_t blocks_needed(const kv_write& w) const;
  /// Blocks that truncating w.slot to w.pos0 gives back to the pool (those it holds alone).
  [[nodiscard]] std::size_t blocks_freed(const kv_write& w) const;
  /// True when the blocks for all `writes` (distinct slots, pos0 <= length) can be had:
  /// the sum of blocks_needed() is at most the available blocks plus the sum of blocks_freed().
  /// Never true when truncate() + reserve() of the writes would run out of blocks.
  [[nodiscard]] bool fits(std::span<const kv_write> writes) const;
  /// Makes positions [w.pos0, w.end) of w.slot writable (see the file comment). Call only
  /// after fits() said yes for the whole batch, truncations of all entries first.
  void truncate(const kv_write& w);
  /// False only if the block accounting of fits() was wrong and the pool ran dry (a bug, kept
  /// an error rather than undefined behaviour in release builds); the sequence then holds the
  /// blocks it got so far.
  [[nodiscard]] bool reserve(const kv_write& w);
  /// Records the tokens written at [pos0, pos0 + tokens.size()) and registers the blocks of
  /// the slot that are now full.
  void commit(std::size_t slot, std::size_t pos0, std::span<const std::int32_t> tokens);

  /// Pointer to the key row (kv_dim elements) of (slot, layer, pos); the block must be there.
  [[nodiscard]] std::byte* key_at(std::size_t slot, std::size_t layer, std::size_t pos) {
    return row(pool_.key(seqs_[slot].table[pos / block_tokens()], layer), pos);
  }
  /// Pointer to the value row of (slot, layer, pos), as key_at().
  [[nodiscard]] std::byte* value_at(std::size_t slot, std::size_t layer, std::size_t pos) {
    return row(pool_.value(seqs_[slot].table[pos / block_tokens()], layer), pos);
  }

  /// Prompt tokens taken from the cache / not found there, by attach_prefix().
  [[nodiscard]] std::size_t hit_tokens() const { return hit_tokens_; }
  [[nodiscard]] std::size_t miss_tokens() const { return miss_tokens_; }

private:
  struct sequence {
    bool in_use = false;
    std::vector<std::int32_t> tokens;   ///< (length) what the cache holds, in order
    std::vector<block_id> table;        ///< (ceil(length / block_tokens) or more, after reserve)
    std::vector<std::uint64_t> hashes;  ///< chained hashes of the first hashes.size() full blocks
  };

  [[nodiscard]] std::byte* row(std::byte* block, std::size_t pos) const {
    return block + (pos % block_tokens()) * row_bytes_;
  }
  void drop_blocks_from(sequence& s, std::size_t first_block);

  block_pool pool_;
  std::size_t row_bytes_;  ///< one position's keys (or values) of one layer
  std::vector<sequence> seqs_;
  std::size_t hit_tokens_ = 0, miss_tokens_ = 0;
};

} // namespace troupe::inference
