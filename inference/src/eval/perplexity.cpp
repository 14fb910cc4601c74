// perplexity(): log-softmax of every row in double precision, summed over the scored tokens.
#include "troupe/inference/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace troupe::inference {

namespace {

/// -log softmax(row)[target], computed in double with the max subtracted.
double nll_of(const float* row, std::size_t n_vocab, std::int32_t target) {
  const float mx = *std::max_element(row, row + n_vocab);
  double sum = 0.0;
  for (std::size_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - mx);
  return std::log(sum) - (static_cast<double>(row[target]) - mx);
}

} // namespace

result<perplexity_result> perplexity(context& ctx, std::span<const std::int32_t> tokens,
                                     std::size_t window) {
  if (window < 2 || window > ctx.n_ctx()) {
    return fail(errc::invalid_argument,
                fmt::format("perplexity: window {} is outside [2, {}]", window, ctx.n_ctx()));
  }
  if (tokens.size() < 2) {
    return fail(errc::invalid_argument, "perplexity: fewer than 2 tokens to score");
  }
  const std::size_t n_vocab = ctx.n_vocab();
  perplexity_result r;
  r.n_tokens = tokens.size();
  r.window = window;
  double total = 0.0;
  std::vector<float> logits;  // (window, n_vocab)
  for (std::size_t start = 0; start < tokens.size(); start += window) {
    const std::size_t len = std::min(window, tokens.size() - start);
    if (len < 2) break;
    auto seq = ctx.seq_create();
    if (!seq) return tl::make_unexpected(seq.error());
    batch b;
    b.add(*seq, std::vector<std::int32_t>(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                                          tokens.begin() + static_cast<std::ptrdiff_t>(start + len)),
          logits_mode::all);
    auto done = ctx.decode(b, logits);
    (void)ctx.seq_remove(*seq);
    if (!done) return tl::make_unexpected(done.error());
    for (std::size_t i = 0; i + 1 < len; ++i) {
      total += nll_of(logits.data() + i * n_vocab, n_vocab, tokens[start + i + 1]);
    }
    r.n_scored += len - 1;
  }
  r.nll_per_token = total / static_cast<double>(r.n_scored);
  r.ppl = std::exp(r.nll_per_token);
  return r;
}

} // namespace troupe::inference
