// Perplexity of a token sequence under a model, the number language-model training reports:
// the tokens are cut into consecutive windows of `window` tokens (the last may be shorter),
// each window runs from an empty context, and tokens 1..len-1 of each window are scored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "troupe/inference/context.hpp"
#include "troupe/inference/error.hpp"

namespace troupe::inference {

/// What perplexity() measured.
struct perplexity_result {
  double nll_per_token = 0.0;  ///< mean -log p(token | window prefix), in nats
  double ppl = 0.0;            ///< exp(nll_per_token)
  std::size_t n_tokens = 0;    ///< tokens given
  std::size_t n_scored = 0;    ///< tokens predicted (one fewer than each window's length)
  std::size_t window = 0;      ///< window length used
};

/// Scores `tokens` window by window with `ctx` (which must have a free sequence slot; the
/// sequence it opens is removed again). Errors: invalid_argument when `window` is below 2 or
/// above ctx.n_ctx(), or when fewer than 2 tokens are given; errors of context::decode.
[[nodiscard]] result<perplexity_result> perplexity(context& ctx,
                                                   std::span<const std::int32_t> tokens,
                                                   std::size_t window);

} // namespace troupe::inference
