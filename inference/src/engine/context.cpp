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
  const std::size_t bt = params_.kv_block_tokens;
  const std::size_t block_bytes = block_pool::block_bytes(hp.n_layer, bt, hp.kv_dim(), params_.kv_type);
  const std::size_t n_blocks = params_.kv_budget_bytes != 0 ? params_.kv_budget_bytes / block_bytes
                                                            : params_.n_seq_max * ((n_ctx_ + bt - 1) / bt);
  cache_ = std::make_unique<kv_cache>(hp.n_layer, params_.n_seq_max, hp.kv_dim(), bt, n_blocks, params_.kv_type);
}

context::~context() = default;

result<std::unique_ptr<context>> context::create(std::shared_ptr<const model> m,
                                                 context_params params) {
  if (!m) return fail(errc::invalid_argument, "context: no model");
  if (params.n_seq_max == 0) return fail(errc::invalid_argument, "context: n_seq_max must be >= 1");
  if (params.n_batch_max == 0) return fail(errc::invalid_argument, "context: n_batch_max must be >= 1");
  if (params.kv_block_tokens == 0) return fail(errc::invalid_argument, "context: kv_block_tokens must be >= 1");
  if (params.kv_type != tensor_type::f16 && params.kv_type != tensor_type::f32)
    return fail(errc::invalid_argument,
                fmt::format("context: kv_type {} is not supported (F16 or F32)", traits_of(params.kv_type).name));
  const hparams& hp = m->params();
  const std::size_t block_bytes =
      block_pool::block_bytes(hp.n_layer, params.kv_block_tokens, hp.kv_dim(), params.kv_type);
  if (params.kv_budget_bytes != 0 && params.kv_budget_bytes < block_bytes)
    return fail(errc::invalid_argument, fmt::format("context: kv_budget_bytes {} is less than one KV block ({} bytes)",
                                                    params.kv_budget_bytes, block_bytes));
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

result<std::size_t> context::seq_attach_prefix(seq_id seq, std::span<const std::int32_t> tokens) {
  auto len = seq_length(seq);
  if (!len) return tl::make_unexpected(len.error());
  if (*len != 0)
    return fail(errc::invalid_argument,
                fmt::format("context: sequence {} holds {} tokens; a prefix attaches to an empty one", seq, *len));
  return cache_->attach_prefix(static_cast<std::size_t>(seq), tokens);
}

kv_stats context::cache_stats() const {
  const block_pool& p = cache_->pool();
  kv_stats s;
  s.block_tokens = p.block_tokens();
  s.blocks_total = p.n_blocks();
  s.blocks_in_use = p.in_use();
  s.blocks_cached = p.cached();
  s.bytes = p.bytes();
  s.hit_tokens = cache_->hit_tokens();
  s.miss_tokens = cache_->miss_tokens();
  s.computed_tokens = computed_tokens_;
  s.evictions = p.evictions();
  return s;
}

result<std::size_t> context::blocks_needed(const batch_entry& e) const {
  auto len = seq_length(e.seq);
  if (!len) return tl::make_unexpected(len.error());
  const std::size_t pos0 = e.pos == batch_entry::append ? *len : e.pos;
  if (pos0 > *len)
    return fail(errc::invalid_argument,
                fmt::format("batch: sequence {} has {} tokens, cannot start at {}", e.seq, *len, pos0));
  return cache_->blocks_needed({static_cast<std::size_t>(e.seq), pos0, pos0 + e.tokens.size()});
}

std::size_t context::blocks_available() const { return cache_->pool().available(); }

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
  std::vector<kv_write> writes;
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
    writes.push_back({static_cast<std::size_t>(e.seq), pos0, pos0 + e.tokens.size()});
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
  if (!cache_->fits(writes))
    return fail(errc::context_full,
                fmt::format("KV cache: the batch needs more blocks than are free or cached ({} blocks of {} "
                            "tokens, {} held by live sequences)",
                            cache_->pool().n_blocks(), cache_->block_tokens(), cache_->pool().in_use()));
  // Commit: truncate rewound sequences, give every entry the blocks it writes, then run passes
  // of at most n_batch_max tokens. Tokens of one sequence stay in order, so a later pass sees
  // what an earlier one cached.
  for (const auto& w : writes) cache_->truncate(w);
  for (const auto& w : writes)
    if (!cache_->reserve(w))
      return fail(errc::context_full,
                  "KV cache: ran out of blocks after the batch was checked to fit (a troupe bug: please "
                  "report it with the model and the kv_budget settings)");
  logits_out.resize(n_wanted * n_vocab);
  float* out = logits_out.data();
  for (std::size_t begin = 0; begin < toks.size(); begin += params_.n_batch_max) {
    const std::size_t end = std::min(toks.size(), begin + params_.n_batch_max);
    const std::span<const token_info> pass(toks.data() + begin, end - begin);
    compute(pass, out);
    for (const auto& t : pass)
      if (t.want_logits) out += n_vocab;
  }
  for (std::size_t i = 0; i < b.entries.size(); ++i)
    cache_->commit(writes[i].slot, writes[i].pos0, b.entries[i].tokens);
  computed_tokens_ += toks.size();
  return {};
}

} // namespace troupe::inference
