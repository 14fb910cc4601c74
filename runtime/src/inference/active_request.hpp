// One request while the worker holds it: its tokens (prompt, then what it generated), how
// many of them its sequence's KV cache holds, its sampler, and the text produced so far.
// A request can be preempted (its sequence dropped to give the KV blocks to others) and
// resumed later in a new sequence: the tokens are computed again (the prefix cache may bring
// some back) and generation goes on where it was, with the same sampler state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <troupe/inference/context.hpp>
#include <troupe/inference/generate.hpp>
#include <troupe/inference/sampler.hpp>
#include <troupe/inference/vocab.hpp>

#include "inference/request_queue.hpp"

namespace troupe::runtime::detail {

/// The state of a request taken from the queue. Owned and used by one model worker only.
class active_request {
public:
  /// A request with prompt `prompt` (non-empty), not yet in a sequence (see attach()).
  active_request(queued_request r, std::vector<std::int32_t> prompt);

  [[nodiscard]] const std::string& id() const { return req_.request.request_id; }
  /// Its sequence; -1 while it holds none (before attach(), after preempt()).
  [[nodiscard]] inference::seq_id seq() const { return seq_; }
  [[nodiscard]] std::int64_t deadline_ms() const { return req_.request.deadline_ms; }
  /// The tokens its sequence must hold to go on: the prompt, then every sampled token not
  /// yet known to end the request (the last of them is decoded next).
  [[nodiscard]] std::span<const std::int32_t> tokens() const { return tokens_; }
  [[nodiscard]] std::size_t prompt_size() const { return prompt_size_; }
  /// The most tokens its sequence can come to hold (prompt + max_tokens - 1, at most n_ctx).
  [[nodiscard]] std::size_t max_positions(std::size_t n_ctx) const;
  /// True while tokens are to be computed in budgeted chunks (the prompt, or everything
  /// again after a preemption), false while it decodes one token per step.
  [[nodiscard]] bool prefilling() const { return cached_ < prefill_end_; }
  /// Blocks of `block_tokens` positions its sequence still has to take to finish computing
  /// its chunks (0 while it decodes).
  [[nodiscard]] std::size_t prefill_blocks_left(std::size_t block_tokens) const {
    return (prefill_end_ + block_tokens - 1) / block_tokens - (cached_ + block_tokens - 1) / block_tokens;
  }
  /// True once it has been preempted and not yet resumed.
  [[nodiscard]] bool preempted() const { return preemptions_ > 0 && seq_ < 0; }

  /// Gives it sequence `seq`, which holds its first `cached` tokens (< tokens().size()).
  void attach(inference::seq_id seq, std::size_t cached);
  /// Forgets its sequence (the caller removes it): all of tokens() are computed again after
  /// the next attach(), in chunks; the sampler, the text and what was streamed stay.
  void preempt();

  /// This step's batch entry: the next chunk to compute (at most `budget` tokens, taken from
  /// `budget`) or the token to decode. nullopt when a chunk is pending and budget is 0.
  /// Changes nothing but `budget`: call advanced() once the entry went through decode.
  [[nodiscard]] std::optional<inference::batch_entry> next_entry(std::size_t& budget) const;
  /// Records that `n` more tokens are in the cache (the entry of next_entry() was decoded).
  void advanced(std::size_t n) { cached_ += n; }

  /// Takes this step's logits row (when the entry asked for one): samples, streams the new
  /// text and returns the finish reason ("stop", "length") once the request is done.
  std::optional<std::string> on_logits(std::span<const float> logits, const inference::tokenizer& tok,
                                       std::size_t n_ctx);

  /// The final result (call once, after on_logits returned a reason).
  [[nodiscard]] generation_result result(std::string finish_reason);
  /// Calls on_done with `r` (once).
  void finish(runtime::result<generation_result> r);

private:
  void emit(std::string text);

  queued_request req_;
  inference::seq_id seq_ = -1;
  std::vector<std::int32_t> tokens_;  ///< prompt, then sampled tokens (see tokens())
  std::size_t prompt_size_;
  std::size_t cached_ = 0;       ///< tokens_ in the sequence (reused or handed to a forward pass)
  std::size_t prefill_end_;      ///< tokens_ computed in chunks: the prompt, or all after a preemption
  std::size_t preemptions_ = 0;  ///< times preempted
  inference::sampler sampler_;
  inference::utf8_stream utf8_;
  inference::stop_matcher stops_;
  std::string text_;
  std::size_t generated_ = 0;    ///< tokens sampled (an EOG token included)
};

} // namespace troupe::runtime::detail
