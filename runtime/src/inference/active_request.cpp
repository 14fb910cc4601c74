#include "inference/active_request.hpp"

#include <algorithm>
#include <random>

namespace troupe::runtime::detail {

namespace {

inference::sampler_params sampler_from(const sampling_params& s) {
  inference::sampler_params p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repeat_penalty = s.repeat_penalty;
  // No seed: a fresh one per request (a fixed one would make every unseeded agent alike).
  p.seed = s.seed ? *s.seed : std::random_device{}();
  return p;
}

} // namespace

active_request::active_request(queued_request r, std::vector<std::int32_t> prompt)
    : req_(std::move(r)),
      tokens_(std::move(prompt)),
      prompt_size_(tokens_.size()),
      prefill_end_(tokens_.size()),
      sampler_(sampler_from(req_.request.sampling)),
      stops_(req_.request.sampling.stop) {
  for (std::int32_t t : tokens_) sampler_.accept(t);
}

std::size_t active_request::max_positions(std::size_t n_ctx) const {
  // The last sampled token is never decoded; on_logits ends the request before a token
  // would go past n_ctx.
  const auto max_tokens = static_cast<std::size_t>(std::max(req_.request.sampling.max_tokens, 1));
  return std::max(prompt_size_, std::min(prompt_size_ + max_tokens - 1, n_ctx));
}

void active_request::attach(inference::seq_id seq, std::size_t cached) {
  seq_ = seq;
  cached_ = cached;
}

void active_request::preempt() {
  seq_ = -1;
  cached_ = 0;
  prefill_end_ = tokens_.size();
  ++preemptions_;
}

std::optional<inference::batch_entry> active_request::next_entry(std::size_t& budget) const {
  inference::batch_entry e;
  e.seq = seq_;
  if (!prefilling()) {
    e.tokens.assign(tokens_.begin() + static_cast<std::ptrdiff_t>(cached_), tokens_.end());  // one token
    return e;
  }
  const std::size_t n = std::min(budget, prefill_end_ - cached_);
  if (n == 0) return std::nullopt;
  budget -= n;
  const auto first = tokens_.begin() + static_cast<std::ptrdiff_t>(cached_);
  e.tokens.assign(first, first + static_cast<std::ptrdiff_t>(n));
  e.logits = cached_ + n < prefill_end_ ? inference::logits_mode::none : inference::logits_mode::last;
  return e;
}

std::optional<std::string> active_request::on_logits(std::span<const float> logits,
                                                     const inference::tokenizer& tok, std::size_t n_ctx) {
  const std::int32_t next = sampler_.sample(logits);
  sampler_.accept(next);
  ++generated_;
  if (tok.is_eog(next)) return "stop";
  emit(stops_.push(utf8_.push(tok.token_to_piece(next))));
  if (stops_.stopped()) return "stop";
  const auto max_tokens = static_cast<std::size_t>(std::max(req_.request.sampling.max_tokens, 0));
  if (generated_ >= max_tokens) return "length";
  if (prompt_size_ + generated_ > n_ctx) return "length";  // no cache slot left for it
  tokens_.push_back(next);
  return std::nullopt;
}

generation_result active_request::result(std::string finish_reason) {
  if (!stops_.stopped()) emit(stops_.push(utf8_.flush()));
  emit(stops_.flush());
  generation_result r;
  r.request_id = id();
  r.text = std::move(text_);
  r.prompt_tokens = prompt_size_;
  r.completion_tokens = generated_;
  r.finish_reason = std::move(finish_reason);
  return r;
}

void active_request::finish(runtime::result<generation_result> r) {
  if (auto done = std::move(req_.on_done)) {
    req_.on_done = nullptr;
    done(std::move(r));
  }
}

void active_request::emit(std::string text) {
  if (text.empty()) return;
  text_ += text;
  if (req_.on_piece) req_.on_piece(text);
}

} // namespace troupe::runtime::detail
