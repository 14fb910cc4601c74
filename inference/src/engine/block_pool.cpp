#include "engine/block_pool.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "splitmix64.hpp"

namespace troupe::inference {

namespace {

std::size_t elem_bytes(tensor_type t) { return t == tensor_type::f32 ? 4 : 2; }

} // namespace

std::size_t block_pool::block_bytes(std::size_t n_layer, std::size_t block_tokens, std::size_t kv_dim,
                                    tensor_type kv_type) {
  return n_layer * 2 * block_tokens * kv_dim * elem_bytes(kv_type);
}

block_pool::block_pool(std::size_t n_blocks, std::size_t n_layer, std::size_t block_tokens, std::size_t kv_dim,
                       tensor_type kv_type)
    : n_blocks_(n_blocks), n_layer_(n_layer), block_tokens_(block_tokens), kv_dim_(kv_dim), kv_type_(kv_type),
      plane_bytes_(block_tokens * kv_dim * elem_bytes(kv_type)),
      block_bytes_(block_bytes(n_layer, block_tokens, kv_dim, kv_type)),
      // Not zeroed: pages are touched only when blocks are first written.
      data_(std::make_unique_for_overwrite<std::byte[]>(n_blocks * block_bytes_)),
      meta_(n_blocks), tokens_(n_blocks * block_tokens) {
  free_.reserve(n_blocks);
  for (std::size_t b = n_blocks; b-- > 0;) free_.push_back(static_cast<block_id>(b));  // block 0 first
}

std::optional<block_id> block_pool::allocate() {
  block_id b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    b = lru_.front();
    lru_.pop_front();
    unregister(b);
    ++evictions_;
  } else {
    return std::nullopt;
  }
  meta_[b].refs = 1;
  return b;
}

void block_pool::retain(block_id b) {
  block_meta& m = meta_[b];
  if (m.refs == 0) {
    assert(m.registered);  // an unreferenced block that can be found is a cached one
    lru_.erase(m.lru_pos);
  }
  ++m.refs;
}

void block_pool::release(block_id b) {
  block_meta& m = meta_[b];
  assert(m.refs > 0);
  if (--m.refs > 0) return;
  if (m.registered) m.lru_pos = lru_.insert(lru_.end(), b);
  else free_.push_back(b);
}

void block_pool::copy(block_id dst, block_id src) {
  for (std::size_t l = 0; l < n_layer_; ++l)
    for (std::size_t kv = 0; kv < 2; ++kv)
      std::memcpy(data_.get() + offset(dst, l, kv), data_.get() + offset(src, l, kv), plane_bytes_);
}

std::optional<block_id> block_pool::register_block(block_id b, std::uint64_t hash, std::uint64_t parent_hash,
                                                   std::span<const std::int32_t> tokens) {
  assert(tokens.size() == block_tokens_ && !meta_[b].registered);
  if (auto same = find(hash, parent_hash, tokens)) return same;
  auto [it, inserted] = index_.try_emplace(hash, b);
  if (!inserted) return std::nullopt;  // a 64-bit collision with other content: stay private
  block_meta& m = meta_[b];
  m.registered = true;
  m.hash = hash;
  m.parent_hash = parent_hash;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(b * block_tokens_));
  return std::nullopt;
}

void block_pool::unregister(block_id b) {
  block_meta& m = meta_[b];
  if (!m.registered) return;
  index_.erase(m.hash);
  m.registered = false;
}

std::optional<block_id> block_pool::find(std::uint64_t hash, std::uint64_t parent_hash,
                                         std::span<const std::int32_t> tokens) const {
  auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  const block_meta& m = meta_[it->second];
  if (m.parent_hash != parent_hash) return std::nullopt;
  const auto stored = tokens_of(it->second);
  if (!std::equal(stored.begin(), stored.end(), tokens.begin(), tokens.end())) return std::nullopt;
  return it->second;
}

std::uint64_t block_pool::chain_hash(std::uint64_t parent, std::span<const std::int32_t> tokens) {
  std::uint64_t h = detail::splitmix64_mix(parent ^ 0x2545f4914f6cdd1dull);
  for (std::int32_t t : tokens) h = detail::splitmix64_mix(h ^ static_cast<std::uint32_t>(t)) + 0x9e3779b97f4a7c15ull;
  return detail::splitmix64_mix(h ^ tokens.size());
}

} // namespace troupe::inference
