// One request while it holds a sequence slot: its prompt (prefilled in chunks), its sampler,
// and the text it has produced so far.
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

/// The state of a running request. Owned and used by one model worker only.
class active_request {
public:
  /// A request with prompt `prompt` (non-empty) in sequence `seq`, whose first `cached`
  /// tokens (< prompt.size()) the sequence holds already (a reused prefix).
  active_request(queued_request r, inference::seq_id seq, std::vector<std::int32_t> prompt, std::size_t cached = 0);

  [[nodiscard]] const std::string& id() const { return req_.request.request_id; }
  [[nodiscard]] inference::seq_id seq() const { return seq_; }
  [[nodiscard]] std::int64_t deadline_ms() const { return req_.request.deadline_ms; }
  /// True while prompt tokens remain to be computed.
  [[nodiscard]] bool prefilling() const { return prefilled_ < prompt_.size(); }

  /// This step's batch entry: the next prompt chunk (at most `budget` tokens, taken from
  /// `budget`) or the last sampled token. nullopt when the prompt is pending and budget is 0.
  std::optional<inference::batch_entry> next_entry(std::size_t& budget);

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
  inference::seq_id seq_;
  std::vector<std::int32_t> prompt_;
  std::size_t prefilled_ = 0;        ///< prompt tokens cached (reused) or handed to a forward pass
  inference::sampler sampler_;
  inference::utf8_stream utf8_;
  inference::stop_matcher stops_;
  std::string text_;
  std::size_t generated_ = 0;        ///< tokens sampled (an EOG token included)
  std::int32_t next_token_ = -1;     ///< sampled, not yet in the cache
};

} // namespace troupe::runtime::detail
