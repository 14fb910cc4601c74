// The generation loop: prompt -> prefill -> sample -> decode, until max_tokens, an
// end-of-generation token, a stop string or cancellation; streams whole UTF-8 text.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/inference/context.hpp"
#include "troupe/inference/error.hpp"
#include "troupe/inference/sampler.hpp"

namespace troupe::inference {

class tokenizer;

/// Holds back text that could be the start of a stop string, and cuts the text at the first
/// stop string (which is not emitted).
class stop_matcher {
public:
  /// Matches any of `stops` (empty strings are ignored).
  explicit stop_matcher(std::vector<std::string> stops);
  /// Appends `text`; returns the text now safe to emit (never part of a stop string).
  std::string push(std::string_view text);
  /// True once a stop string was seen; later pushes return nothing.
  [[nodiscard]] bool stopped() const { return stopped_; }
  /// Returns the held-back text at the end of generation (nothing after a stop).
  std::string flush();

private:
  std::vector<std::string> stops_;
  std::string held_;  ///< text not emitted yet: a suffix that may begin a stop string
  bool stopped_ = false;
};

/// Why generation ended.
enum class stop_reason { max_tokens, eog, stop_string, cancelled, context_full };

/// Settings of one generation.
struct generate_params {
  std::size_t max_tokens = 256;    ///< generated tokens at most
  sampler_params sampling;         ///< how tokens are chosen
  std::vector<std::string> stop;   ///< stop strings, removed from the output
};

/// Counts and timings of one generation.
struct generate_stats {
  std::size_t prompt_tokens = 0;
  std::size_t generated_tokens = 0;  ///< tokens sampled (including an EOG token)
  double prefill_s = 0;              ///< time of the prompt pass
  double decode_s = 0;               ///< time of the decode passes (and sampling)
  [[nodiscard]] double prefill_tok_s() const { return prefill_s > 0 ? prompt_tokens / prefill_s : 0; }
  [[nodiscard]] double decode_tok_s() const {
    // The first token comes from the prefill pass; the others from decode passes.
    return decode_s > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_s : 0;
  }
};

/// What a generation produced.
struct generate_result {
  std::string text;                  ///< generated text (stop string removed)
  std::vector<std::int32_t> tokens;  ///< generated token ids, in order
  stop_reason reason = stop_reason::max_tokens;
  generate_stats stats;
};

/// Receives each new piece of text (whole UTF-8 characters); return false to cancel.
using text_callback = std::function<bool(std::string_view text)>;

/// Generates from `prompt` (token ids, non-empty) in a fresh sequence of `ctx`, removed again
/// at the end. `cancel` (may be null) is polled between tokens. Cancellation is not an error:
/// the result says stop_reason::cancelled. Errors: context_full when the prompt does not fit
/// (running out of context while generating ends with stop_reason::context_full instead),
/// invalid_argument.
[[nodiscard]] result<generate_result> generate(context& ctx, const tokenizer& tok,
                                               std::span<const std::int32_t> prompt,
                                               const generate_params& params,
                                               const text_callback& on_text = {},
                                               const std::atomic<bool>* cancel = nullptr);

} // namespace troupe::inference
