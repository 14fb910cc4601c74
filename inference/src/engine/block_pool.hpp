// The memory of a paged KV cache: a fixed pool of blocks, each holding the keys and values of
// `block_tokens` consecutive positions for every layer. Blocks are refcounted (a block may be
// shared by several sequences that start with the same tokens). A full block can be
// registered in the prefix index under a content hash; once registered it is never written
// again. When its last reference goes, a registered block stays cached (on an LRU list) so
// that a later sequence with the same prefix can take it back; an unregistered one is free.
// Allocation takes a free block first, then evicts the least recently released cached block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

/// Index of a block in a block_pool.
using block_id = std::uint32_t;

/// Owns the KV blocks, their refcounts, the prefix index and the LRU list of cached blocks.
/// Layout: per layer, the keys of all blocks, then the values of all blocks; block b of one of
/// those planes is (block_tokens, kv_dim) elements of kv_type (F16 bits or F32). Layer-major,
/// so a sequence whose blocks have consecutive ids reads one layer's keys as one stream.
class block_pool {
public:
  /// A pool of `n_blocks` blocks (n_blocks >= 1, kv_type F16 or F32).
  block_pool(std::size_t n_blocks, std::size_t n_layer, std::size_t block_tokens, std::size_t kv_dim,
             tensor_type kv_type);

  /// Bytes of one block (all layers, keys and values).
  [[nodiscard]] static std::size_t block_bytes(std::size_t n_layer, std::size_t block_tokens,
                                               std::size_t kv_dim, tensor_type kv_type);

  [[nodiscard]] std::size_t n_blocks() const { return n_blocks_; }
  [[nodiscard]] std::size_t block_tokens() const { return block_tokens_; }
  [[nodiscard]] tensor_type kv_type() const { return kv_type_; }

  /// Keys of `layer` in block `b`: (block_tokens, kv_dim) elements of kv_type.
  [[nodiscard]] std::byte* key(block_id b, std::size_t layer) { return data_.get() + offset(b, layer, 0); }
  /// Values of `layer` in block `b`, laid out as key().
  [[nodiscard]] std::byte* value(block_id b, std::size_t layer) { return data_.get() + offset(b, layer, 1); }

  /// Blocks allocate() can hand out now: free ones plus cached (evictable) ones.
  [[nodiscard]] std::size_t available() const { return free_.size() + lru_.size(); }
  /// A block with refcount 1, unregistered: a free one, else the least recently released
  /// cached one (evicted: unregistered, counted). nullopt when available() == 0.
  [[nodiscard]] std::optional<block_id> allocate();
  /// One more reference to `b` (taking it off the LRU list when it was cached).
  void retain(block_id b);
  /// One reference less; at zero a registered block becomes cached (most recently used end
  /// of the LRU list), an unregistered one free.
  void release(block_id b);
  [[nodiscard]] std::uint32_t refcount(block_id b) const { return meta_[b].refs; }
  /// Copies the contents of `src` into `dst` (all layers, all positions).
  void copy(block_id dst, block_id src);

  /// Registers full block `b` under `hash` (chained from `parent_hash`, over `tokens`, which
  /// has block_tokens entries). If an equal block is registered already, returns it instead
  /// and leaves `b` unregistered.
  [[nodiscard]] std::optional<block_id> register_block(block_id b, std::uint64_t hash, std::uint64_t parent_hash,
                                                       std::span<const std::int32_t> tokens);
  /// Removes `b` from the prefix index (before it is written again). No-op if unregistered.
  void unregister(block_id b);
  [[nodiscard]] bool registered(block_id b) const { return meta_[b].registered; }
  /// The registered block with this hash, parent hash and tokens, if any.
  [[nodiscard]] std::optional<block_id> find(std::uint64_t hash, std::uint64_t parent_hash,
                                             std::span<const std::int32_t> tokens) const;

  [[nodiscard]] std::size_t in_use() const { return n_blocks_ - free_.size() - lru_.size(); }
  [[nodiscard]] std::size_t cached() const { return lru_.size(); }
  [[nodiscard]] std::size_t evictions() const { return evictions_; }
  [[nodiscard]] std::size_t bytes() const { return n_blocks_ * block_bytes_; }

  /// Hash of a block of tokens chained from the hash of the blocks before it (`parent`;
  /// root_hash for the first block).
  [[nodiscard]] static std::uint64_t chain_hash(std::uint64_t parent, std::span<const std::int32_t> tokens);
  static constexpr std::uint64_t root_hash = 0x9e3779b97f4a7c15ull;

private:
  struct block_meta {
    std::uint32_t refs = 0;
    bool registered = false;
    std::uint64_t hash = 0, parent_hash = 0;
    std::list<block_id>::iterator lru_pos;  ///< valid while cached
  };

  [[nodiscard]] std::size_t offset(block_id b, std::size_t layer, std::size_t kv) const {
    return ((layer * 2 + kv) * n_blocks_ + b) * plane_bytes_;
  }
  [[nodiscard]] std::span<const std::int32_t> tokens_of(block_id b) const {
    return {tokens_.data() + static_cast<std::size_t>(b) * block_tokens_, block_tokens_};
  }

  std::size_t n_blocks_, n_layer_, block_tokens_, kv_dim_;
  tensor_type kv_type_;
  std::size_t plane_bytes_;  ///< keys (or values) of one layer in one block
  std::size_t block_bytes_;
  std::unique_ptr<std::byte[]> data_;    // (n_layer, 2, n_blocks, block_tokens, kv_dim) elements
  std::vector<block_meta> meta_;         // (n_blocks)
  std::vector<std::int32_t> tokens_;     // (n_blocks, block_tokens) tokens of registered blocks
  std::vector<block_id> free_;           // unreferenced, unregistered; popped from the back
  std::list<block_id> lru_;              // unreferenced, registered; front = least recent
  std::unordered_map<std::uint64_t, block_id> index_;  // hash -> registered block
  std::size_t evictions_ = 0;
};

} // namespace troupe::inference
