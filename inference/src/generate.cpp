#include "troupe/inference/generate.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "troupe/inference/vocab.hpp"

namespace troupe::inference {

// --- stop_matcher ---------------------------------------------------------------------------

stop_matcher::stop_matcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string stop_matcher::push(std::string_view text) {
  if (stopped_) return {};
  held_.append(text);
  // A complete stop string: emit what precedes the earliest one, drop the rest.
  std::size_t cut = std::string::npos;
  for (const auto& s : stops_) cut = std::min(cut, held_.find(s));
  if (cut != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, cut);
    held_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  std::size_t hold = 0;
  for (const auto& s : stops_) {
    const std::size_t max_len = std::min(s.size() - 1, held_.size());
    for (std::size_t len = max_len; len > hold; --len)
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
  }
  std::string out = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return out;
}

std::string stop_matcher::flush() {
  std::string out = stopped_ ? std::string{} : held_;
  held_.clear();
  return out;
}

// --- generate -------------------------------------------------------------------------------

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Removes the sequence when generation ends, however it ends.
struct seq_guard {
  context& ctx;
  seq_id seq;
  ~seq_guard() { (void)ctx.seq_remove(seq); }
};

} // namespace

result<generate_result> generate(context& ctx, const tokenizer& tok,
                                 std::span<const std::int32_t> prompt,
                                 const generate_params& params, const text_callback& on_text,
                                 const std::atomic<bool>* cancel) {
  if (prompt.empty()) return fail(errc::invalid_argument, "generate: the prompt has no tokens");
  if (prompt.size() > ctx.n_ctx())
    return fail(errc::context_full, fmt::format("generate: prompt of {} tokens exceeds the context "
                                                "of {}", prompt.size(), ctx.n_ctx()));
  auto seq = ctx.seq_create();
  if (!seq) return tl::make_unexpected(seq.error());
  seq_guard guard{ctx, *seq};

  generate_result out;
  out.stats.prompt_tokens = prompt.size();
  sampler smp(params.sampling);
  for (std::int32_t t : prompt) smp.accept(t);
  utf8_stream utf8;
  stop_matcher stops(params.stop);
  bool cancelled = false;
  const auto emit = [&](std::string text) {
    if (text.empty()) return;
    out.text += text;
    if (on_text && !on_text(text)) cancelled = true;
  };

  std::vector<float> logits;
  const auto t_prefill = clock_type::now();
  batch b;
  b.add(*seq, std::vector<std::int32_t>(prompt.begin(), prompt.end()));
  if (auto r = ctx.decode(b, logits); !r) return tl::make_unexpected(r.error());
  out.stats.prefill_s = seconds_since(t_prefill);

  const auto t_decode = clock_type::now();
  out.reason = stop_reason::max_tokens;
  while (out.tokens.size() < params.max_tokens) {
    if (cancelled || (cancel != nullptr && cancel->load(std::memory_order_relaxed))) {
      out.reason = stop_reason::cancelled;
      break;
    }
    const std::int32_t next = smp.sample(logits);
    smp.accept(next);
    out.tokens.push_back(next);
    if (tok.is_eog(next)) {
      out.reason = stop_reason::eog;
      break;
    }
    emit(stops.push(utf8.push(tok.token_to_piece(next))));
    if (stops.stopped()) {
      out.reason = stop_reason::stop_string;
      break;
    }
    if (out.tokens.size() == params.max_tokens) break;
    if (prompt.size() + out.tokens.size() > ctx.n_ctx()) {  // no slot to decode it into
      out.reason = stop_reason::context_full;
      break;
    }
    batch step;
    step.add(*seq, {next});
    if (auto r = ctx.decode(step, logits); !r) return tl::make_unexpected(r.error());
  }
  if (out.reason != stop_reason::stop_string) emit(stops.push(utf8.flush()));
  emit(stops.flush());
  if (cancelled && out.reason != stop_reason::stop_string) out.reason = stop_reason::cancelled;
  out.stats.generated_tokens = out.tokens.size();
  out.stats.decode_s = seconds_since(t_decode);
  return out;
}

} // namespace troupe::inference
