// context: sequence bookkeeping, batch validation, splitting into passes.
#include <algorithm>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "engine/kv_cache.hpp"
#include "engine/token_info.hpp"
#include "troupe/inference/thread_pool.hpp"

namespace troupe::inference {

std::size_t batch::n_tokens() const {
  std::size_t n = 0;
  for (const auto& e : entries) n += e.tokens.size();
  return n;
}

context::context(std::shared_ptr<const model> m, context_params params)
    : model_(std::move(m)), params_(params) {
  const hparams& hp = model_->params();
  n_ctx_ = params_.n_ctx != 0 ? params_.n_ctx : std::min<std::size_t>(hp.n_ctx_train, 4096);
  std::size_t threads = params_.n_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  pool_ = std::make_unique<thread_pool>(threads);
  cache_ = std::make_unique<kv_cache>(hp.n_layer, params_.n_seq_max, n_ctx_, hp.kv_dim());
}

context::~context() = default;

result<std::unique_ptr<context>> context::create(std::shared_ptr<const model> m,
                                                 context_params params) {
  if (!m) return fail(errc::invalid_argument, "context: no model");
  if (params.n_seq_max == 0) return fail(errc::invalid_argument, "context: n_seq_max must be >= 1");
  if (params.n_batch_max == 0) return fail(errc::invalid_argument, "context: n_batch_max must be >= 1");
  return std::unique_ptr<context>(new context(std::move(m), params));
}

std::size_t context::n_threads() const { return pool_->size(); }

result<seq_id> context::seq_create() {
  const std::size_t slot = cache_->acquire();
  if (slot == cache_->n_slots())
    return fail(errc::context_full,
                fmt::format("context: all {} sequence slots are in use", cache_->n_slots()));
  return static_cast<seq_id>(slot);
}

result<void> context::seq_remove(seq_id seq) {
  if (seq < 0 || static_cast<std::size_t>(seq) >= cache_->n_slots() ||
      !cache_->in_use(static_cast<std::size_t>(seq)))
    return fail(errc::invalid_argument, fmt::format("context: no sequence {}", seq));
  cache_->release(static_cast<std::size_t>(seq));
  return {};
}

result<std::size_t> context::seq_length(seq_id seq) const {
  if (seq < 0 || static_cast<std::size_t>(seq) >= cache_->n_slots() ||
      !cache_->in_use(static_cast<std::size_t>(seq)))
    return fail(errc::invalid_argument, fmt::format("context: no sequence {}", seq));
  return cache_->length(static_cast<std::size_t>(seq));
}

result<void> context::decode(const batch& b, std::vector<float>& logits_out) {
  const std::size_t n_vocab = model_->params().n_vocab;
  // Validate everything first so that a bad batch changes nothing.
  std::unordered_set<seq_id> seen;
  std::vector<token_info> toks;
  std::size_t n_wanted = 0;
  for (const auto& e : b.entries) {
    auto len = seq_length(e.seq);
    if (!len) return tl::make_unexpected(len.error());
    if (!seen.insert(e.seq).second)
      return fail(errc::invalid_argument, fmt::format("batch: sequence {} appears twice", e.seq));
    const std::size_t pos0 = e.pos == batch_entry::append ? *len : e.pos;
    if (pos0 > *len)
      return fail(errc::invalid_argument,
                  fmt::format("batch: sequence {} has {} tokens, cannot start at {}", e.seq, *len, pos0));
    if (pos0 + e.tokens.size() > n_ctx_)
      return fail(errc::context_full,
                  fmt::format("sequence {}: {} + {} tokens exceed the context of {}", e.seq, pos0,
                              e.tokens.size(), n_ctx_));
    for (std::size_t i = 0; i < e.tokens.size(); ++i) {
      const std::int32_t t = e.tokens[i];
      if (t < 0 || static_cast<std::size_t>(t) >= n_vocab)
        return fail(errc::invalid_argument,
                    fmt::format("batch: sequence {}: token {} is outside the vocabulary ({})", e.seq,
                                t, n_vocab));
      const bool want = e.logits == logits_mode::all ||
                        (e.logits == logits_mode::last && i + 1 == e.tokens.size());
      n_wanted += want ? 1 : 0;
      toks.push_back({t, static_cast<std::size_t>(e.seq), pos0 + i, want});
    }
  }
  // Commit: truncate rewound sequences, then run passes of at most n_batch_max tokens. Tokens
  // of one sequence stay in order, so a later pass sees what an earlier one cached.
  for (const auto& e : b.entries) {
    const auto slot = static_cast<std::size_t>(e.seq);
    if (e.pos != batch_entry::append) cache_->set_length(slot, e.pos);
  }
  logits_out.resize(n_wanted * n_vocab);
  float* out = logits_out.data();
  for (std::size_t begin = 0; begin < toks.size(); begin += params_.n_batch_max) {
    const std::size_t end = std::min(toks.size(), begin + params_.n_batch_max);
    const std::span<const token_info> pass(toks.data() + begin, end - begin);
    compute(pass, out);
    for (const auto& t : pass) {
      cache_->set_length(t.slot, std::max(cache_->length(t.slot), t.pos + 1));
      if (t.want_logits) out += n_vocab;
    }
  }
  return {};
}

} // namespace troupe::inference
