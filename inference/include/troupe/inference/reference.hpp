// The reference forward pass: plain loops in f32, one token at a time, one sequence, weights
// dequantized row by row. Slow on purpose and easy to read; it is the oracle the fast path
// (context) is tested against. Not for production use.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/model.hpp"

namespace troupe::inference {

/// One sequence run through the model token by token with an f32 KV cache.
class reference_forward {
public:
  /// State for sequences of up to `n_ctx` tokens.
  reference_forward(std::shared_ptr<const model> m, std::size_t n_ctx);

  /// Runs `token` at position `pos` (0 <= pos <= tokens run so far; a smaller pos rewinds)
  /// and returns the logits (n_vocab), valid until the next call.
  [[nodiscard]] result<std::span<const float>> forward(std::int32_t token, std::size_t pos);

private:
  std::shared_ptr<const model> model_;
  std::size_t n_ctx_;
  std::size_t n_past_ = 0;
  // Activations of the current token.
  std::vector<float> x_;       // (n_embd) residual stream
  std::vector<float> xb_;      // (n_embd) normalised input of a sub-block
  std::vector<float> q_;       // (n_head * head_dim)
  std::vector<float> att_out_; // (n_head * head_dim) attention output, all heads
  std::vector<float> scores_;  // (n_ctx) attention scores of one head
  std::vector<float> hb_;      // (n_ff) gate
  std::vector<float> hb2_;     // (n_ff) up
  std::vector<float> logits_;  // (n_vocab)
  // KV cache in f32.
  std::vector<float> key_cache_;   // (n_layer, n_ctx, n_head_kv * head_dim)
  std::vector<float> value_cache_; // (n_layer, n_ctx, n_head_kv * head_dim)
};

} // namespace troupe::inference
