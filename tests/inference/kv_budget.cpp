// Planning batches under a KV budget: context::blocks_needed / blocks_available predict what
// decode allocates, and a batch that does not fit changes nothing (all blocks or none), across
// random appends, rewinds into shared blocks, prefix attaches and removals.
#include <doctest/doctest.h>

#include <troupe/inference/context.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "engine_helpers.hpp"

using namespace troupe::inference;
using troupe::test::make_model;
using troupe::test::rel_max_diff;
using troupe::test::small_spec;
using troupe::test::temp_dir;

namespace {

std::unique_ptr<context> make_ctx(std::shared_ptr<const model> m, std::size_t n_seq, std::size_t block,
                                  std::size_t budget_blocks) {
  context_params p;
  p.n_seq_max = n_seq;
  p.n_ctx = 64;
  p.n_threads = 2;
  p.kv_block_tokens = block;
  p.kv_type = tensor_type::f32;
  const auto& hp = m->params();
  p.kv_budget_bytes = budget_blocks == 0 ? 0 : budget_blocks * hp.n_layer * 2 * block * hp.kv_dim() * 4;
  auto ctx = context::create(std::move(m), p);
  REQUIRE(ctx.has_value());
  return std::move(*ctx);
}

/// Last-token logits of `toks` computed from scratch in an unbounded context.
std::vector<float> fresh(std::shared_ptr<const model> m, const std::vector<std::int32_t>& toks) {
  auto ctx = make_ctx(std::move(m), 1, 4, 0);
  batch b;
  b.add(*ctx->seq_create(), toks);
  std::vector<float> logits;
  REQUIRE(ctx->decode(b, logits).has_value());
  return logits;
}

} // namespace

TEST_CASE("blocks_needed counts what an append allocates; blocks_available what is left") {
  temp_dir dir("kv-budget");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 21), "m.gguf");
  auto ctx = make_ctx(m, 2, 4, 6);
  CHECK(ctx->blocks_available() == 6);
  const seq_id a = *ctx->seq_create();
  batch_entry e{a, {1, 2, 3, 4, 5}};
  CHECK(*ctx->blocks_needed(e) == 2);
  batch b;
  b.entries.push_back(e);
  std::vector<float> logits;
  REQUIRE(ctx->decode(b, logits).has_value());
  CHECK(ctx->blocks_available() == 4);
  CHECK(*ctx->blocks_needed({a, {6, 7, 8}}) == 0);     // fills the partial block
  CHECK(*ctx->blocks_needed({a, {6, 7, 8, 9}}) == 1);  // one past it
  CHECK(*ctx->blocks_needed({a, {9}, 2}) == 0);        // a rewind into its own block
  CHECK_FALSE(ctx->blocks_needed({a, {9}, 6}).has_value());  // past the end
  CHECK_FALSE(ctx->blocks_needed({5, {9}}).has_value());     // no such sequence

  // A second sequence sharing a's full block: writing into that block would need a copy.
  const seq_id c = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(c, std::vector<std::int32_t>{1, 2, 3, 4, 9}) == 4);
  CHECK(*ctx->blocks_needed({c, {7}, 2}) == 1);
  CHECK(*ctx->blocks_needed({c, {9}}) == 1);
  CHECK(*ctx->blocks_needed({c, {9}, 0}) == 1);  // a whole rewind: a fresh block, nothing shared
}

TEST_CASE("random batches under a small budget: the plan predicts decode; a refused batch changes nothing") {
  temp_dir dir("kv-budget-rand");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 22), "m.gguf");
  constexpr std::size_t n_seq = 4, budget = 9;
  auto ctx = make_ctx(m, n_seq, 4, budget);
  std::mt19937 rng(7);
  std::map<seq_id, std::vector<std::int32_t>> held;  // what each live sequence holds
  const std::vector<std::int32_t> shared_start = {11, 12, 13, 14, 15, 16, 17, 18, 19};
  std::size_t ok_batches = 0, refused = 0, rewinds = 0;
  for (int round = 0; round < 120; ++round) {
    const int action = static_cast<int>(rng() % 10);
    if (action == 0 && !held.empty()) {  // remove a sequence
      auto it = std::next(held.begin(), static_cast<std::ptrdiff_t>(rng() % held.size()));
      REQUIRE(ctx->seq_remove(it->first).has_value());
      held.erase(it);
      continue;
    }
    if (action == 1 && held.size() < n_seq) {  // a new sequence, maybe reusing a cached start
      const seq_id s = *ctx->seq_create();
      const auto reused = *ctx->seq_attach_prefix(s, shared_start);
      held[s].assign(shared_start.begin(), shared_start.begin() + static_cast<std::ptrdiff_t>(reused));
      continue;
    }
    if (held.empty()) continue;
    // A batch: each live sequence appends 0-6 tokens or rewinds a little and writes 1-3.
    batch b;
    std::size_t need = 0;
    bool all_appends = true;
    std::map<seq_id, std::vector<std::int32_t>> after;
    for (const auto& [s, toks] : held) {
      if (rng() % 3 == 0) continue;
      batch_entry e;
      e.seq = s;
      const bool starting = toks.size() < shared_start.size() &&
                            std::equal(toks.begin(), toks.end(), shared_start.begin());
      if (starting) {  // a new sequence first computes the rest of the shared start
        e.tokens.assign(shared_start.begin() + static_cast<std::ptrdiff_t>(toks.size()), shared_start.end());
        need += *ctx->blocks_needed(e);
        after[s] = shared_start;
        b.entries.push_back(std::move(e));
        continue;
      }
      const bool rewind = !toks.empty() && rng() % 4 == 0;
      const std::size_t pos0 = rewind ? toks.size() - 1 - rng() % std::min<std::size_t>(toks.size(), 6) : toks.size();
      if (rewind) e.pos = pos0;
      const std::size_t n = rewind ? 1 + rng() % 3 : rng() % 7;
      for (std::size_t i = 0; i < n; ++i) e.tokens.push_back(static_cast<std::int32_t>(1 + rng() % 60));
      if (e.tokens.empty() || pos0 + e.tokens.size() > 64) continue;
      need += *ctx->blocks_needed(e);
      all_appends = all_appends && !rewind;
      rewinds += rewind ? 1 : 0;
      after[s].assign(toks.begin(), toks.begin() + static_cast<std::ptrdiff_t>(pos0));
      after[s].insert(after[s].end(), e.tokens.begin(), e.tokens.end());
      b.entries.push_back(std::move(e));
    }
    if (b.entries.empty()) continue;
    const auto before = ctx->cache_stats();
    const std::size_t available = ctx->blocks_available();
    std::vector<float> logits;
    auto r = ctx->decode(b, logits);
    if (all_appends) CHECK(r.has_value() == (need <= available));
    if (need <= available) CHECK(r.has_value());  // a rewind only ever needs fewer
    if (r) {
      ++ok_batches;
      for (auto& [s, toks] : after) held[s] = std::move(toks);
      const auto st = ctx->cache_stats();
      CHECK(st.blocks_in_use + st.blocks_cached <= st.blocks_total);
    } else {
      ++refused;
      CHECK(r.error().code == errc::context_full);
      const auto st = ctx->cache_stats();
      CHECK(st.blocks_in_use == before.blocks_in_use);
      CHECK(st.blocks_cached == before.blocks_cached);
      CHECK(st.evictions == before.evictions);
      CHECK(st.computed_tokens == before.computed_tokens);
      for (const auto& [s, toks] : held) CHECK(*ctx->seq_length(s) == toks.size());
    }
  }
  CHECK(ok_batches > 20);
  CHECK(refused > 0);
  CHECK(rewinds > 0);
  // Every live sequence still holds exactly its tokens: one more token gives the logits of a
  // fresh computation (nothing was half-written by a refused batch).
  for (const auto& [s, toks] : held) {
    if (toks.empty() || toks.size() >= 64) continue;
    if (*ctx->blocks_needed({s, {5}}) > ctx->blocks_available()) continue;
    batch b;
    b.add(s, {5});
    std::vector<float> logits;
    REQUIRE(ctx->decode(b, logits).has_value());
    auto full = toks;
    full.push_back(5);
    CHECK(rel_max_diff(logits, fresh(m, full)) < 1e-5);
  }
}
