// The KV cache of a context: F16 keys and values for a fixed number of sequence slots, each
// with a fixed capacity of n_ctx positions. Layout per layer: (n_slots, n_ctx, kv_dim) for
// keys and the same for values, so one sequence's keys of one layer are contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::inference {

/// Owns the cache memory and which slots are in use.
class kv_cache {
public:
  kv_cache(std::size_t n_layer, std::size_t n_slots, std::size_t n_ctx, std::size_t kv_dim)
      : n_layer_(n_layer), n_slots_(n_slots), n_ctx_(n_ctx), kv_dim_(kv_dim),
        keys_(n_layer * n_slots * n_ctx * kv_dim), values_(keys_.size()),
        in_use_(n_slots, false), length_(n_slots, 0) {}

  /// Keys of (layer, slot, pos): kv_dim halves, then the following positions.
  [[nodiscard]] std::uint16_t* key(std::size_t layer, std::size_t slot, std::size_t pos) {
    return keys_.data() + offset(layer, slot, pos);
  }
  /// Values of (layer, slot, pos), laid out as key().
  [[nodiscard]] std::uint16_t* value(std::size_t layer, std::size_t slot, std::size_t pos) {
    return values_.data() + offset(layer, slot, pos);
  }

  [[nodiscard]] std::size_t n_slots() const { return n_slots_; }
  [[nodiscard]] std::size_t n_ctx() const { return n_ctx_; }
  [[nodiscard]] bool in_use(std::size_t slot) const { return in_use_[slot]; }
  [[nodiscard]] std::size_t length(std::size_t slot) const { return length_[slot]; }
  void set_length(std::size_t slot, std::size_t n) { length_[slot] = n; }

  /// A free slot, marked in use, or n_slots() when none is free.
  std::size_t acquire() {
    for (std::size_t s = 0; s < n_slots_; ++s)
      if (!in_use_[s]) {
        in_use_[s] = true;
        length_[s] = 0;
        return s;
      }
    return n_slots_;
  }
  void release(std::size_t slot) {
    in_use_[slot] = false;
    length_[slot] = 0;
  }

private:
  [[nodiscard]] std::size_t offset(std::size_t layer, std::size_t slot, std::size_t pos) const {
    return ((layer * n_slots_ + slot) * n_ctx_ + pos) * kv_dim_;
  }

  std::size_t n_layer_, n_slots_, n_ctx_, kv_dim_;
  std::vector<std::uint16_t> keys_;    // (n_layer, n_slots, n_ctx, kv_dim) f16 bits
  std::vector<std::uint16_t> values_;  // (n_layer, n_slots, n_ctx, kv_dim) f16 bits
  std::vector<bool> in_use_;           // (n_slots)
  std::vector<std::size_t> length_;    // (n_slots) tokens cached
};

} // namespace troupe::inference
