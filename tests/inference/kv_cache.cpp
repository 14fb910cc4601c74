// The paged KV cache of a context: block sizes, prefix reuse, sharing, rewinds into shared
// blocks, LRU eviction under a small budget, running out of blocks, the F32 cache type.
#include <doctest/doctest.h>

#include <troupe/inference/context.hpp>
#include <troupe/inference/reference.hpp>

#include <numeric>

#include "engine_helpers.hpp"

using namespace troupe::inference;
using troupe::test::make_model;
using troupe::test::rel_max_diff;
using troupe::test::small_spec;
using troupe::test::temp_dir;

namespace {

struct opts {
  std::size_t n_seq = 2, n_ctx = 64, block = 4, budget_blocks = 0;
  tensor_type kv = tensor_type::f16;
};

std::unique_ptr<context> make_ctx(std::shared_ptr<const model> m, opts o) {
  context_params p;
  p.n_seq_max = o.n_seq;
  p.n_ctx = o.n_ctx;
  p.n_threads = 2;
  p.kv_block_tokens = o.block;
  p.kv_type = o.kv;
  if (o.budget_blocks != 0) {
    const auto& hp = m->params();
    p.kv_budget_bytes = o.budget_blocks * hp.n_layer * 2 * o.block * hp.kv_dim() * (o.kv == tensor_type::f32 ? 4 : 2);
  }
  auto ctx = context::create(std::move(m), p);
  REQUIRE_MESSAGE(ctx.has_value(), (ctx ? std::string{} : ctx.error().message));
  return std::move(*ctx);
}

std::vector<std::int32_t> tokens(std::size_t n, std::int32_t first) {
  std::vector<std::int32_t> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<std::int32_t>((first + 37 * static_cast<std::int32_t>(i)) % 500 + 1);
  return t;
}

std::vector<std::int32_t> concat(std::vector<std::int32_t> a, const std::vector<std::int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Decodes `toks` into `seq` from its current length; returns the last token's logits.
std::vector<float> run(context& ctx, seq_id seq, std::vector<std::int32_t> toks, logits_mode mode = logits_mode::last) {
  batch b;
  b.add(seq, std::move(toks), mode);
  std::vector<float> logits;
  auto ok = ctx.decode(b, logits);
  REQUIRE_MESSAGE(ok.has_value(), (ok ? std::string{} : ok.error().message));
  return logits;
}

/// Logits of the last token of `prompt` computed from scratch in a fresh context, in two
/// passes split at `split` (as a reusing sequence computes it: the prefix, then the rest).
std::vector<float> fresh(std::shared_ptr<const model> m, const std::vector<std::int32_t>& prompt, std::size_t split,
                         opts o = {}) {
  o.budget_blocks = 0;
  auto ctx = make_ctx(std::move(m), o);
  const seq_id s = *ctx->seq_create();
  if (split > 0) run(*ctx, s, {prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(split)});
  return run(*ctx, s, {prompt.begin() + static_cast<std::ptrdiff_t>(split), prompt.end()});
}

} // namespace

TEST_CASE("block size does not change the logits (paged = one contiguous block per sequence)") {
  temp_dir dir("kv-blocks");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 11), "m.gguf");
  const auto prompt = tokens(37, 5);
  std::vector<float> contiguous;  // one block of n_ctx positions: the old fixed-slot layout
  {
    auto ctx = make_ctx(m, {1, 64, 64});
    const seq_id s = *ctx->seq_create();
    contiguous = run(*ctx, s, prompt, logits_mode::all);
    const auto more = run(*ctx, s, {7});  // and one decode step
    contiguous.insert(contiguous.end(), more.begin(), more.end());
  }
  for (std::size_t block : {1, 3, 4, 16}) {
    CAPTURE(block);
    auto ctx = make_ctx(m, {1, 64, block});
    const seq_id s = *ctx->seq_create();
    auto paged = run(*ctx, s, prompt, logits_mode::all);
    const auto more = run(*ctx, s, {7});
    paged.insert(paged.end(), more.begin(), more.end());
    CHECK(paged == contiguous);  // same arithmetic, same order: bit for bit
  }
}

TEST_CASE("an F32 cache matches the reference forward pass closer than F16") {
  temp_dir dir("kv-f32");
  auto m = make_model(dir, small_spec("qwen2", tensor_type::f32, false, 12), "m.gguf");
  const auto prompt = tokens(20, 9);
  double worst16 = 0, worst32 = 0;
  for (auto kv : {tensor_type::f16, tensor_type::f32}) {
    reference_forward r(m, 64);
    auto ctx = make_ctx(m, {1, 64, 4, 0, kv});
    const seq_id s = *ctx->seq_create();
    const auto all = run(*ctx, s, prompt, logits_mode::all);
    const std::size_t n_vocab = ctx->n_vocab();
    double worst = 0;
    for (std::size_t i = 0; i < prompt.size(); ++i) {
      auto l = r.forward(prompt[i], i);
      REQUIRE(l.has_value());
      worst = std::max(worst, rel_max_diff(std::span<const float>(all.data() + i * n_vocab, n_vocab), *l));
    }
    (kv == tensor_type::f32 ? worst32 : worst16) = worst;
  }
  MESSAGE("max relative logit difference vs reference: F16 cache " << worst16 << ", F32 cache " << worst32);
  CHECK(worst32 < 1e-5);
  CHECK(worst32 < worst16);
}

TEST_CASE("prefix reuse: a new sequence shares cached blocks and its logits equal a fresh computation") {
  temp_dir dir("kv-prefix");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 13), "m.gguf");
  auto ctx = make_ctx(m, {2, 64, 4});
  const auto system = tokens(10, 3);                 // 2 full blocks + 2 tokens
  const auto first = concat(system, tokens(5, 100));  // 15 tokens: 3 full blocks
  const seq_id a = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(a, first) == 0);  // nothing cached yet
  run(*ctx, a, first);
  REQUIRE(ctx->seq_remove(a).has_value());
  auto st = ctx->cache_stats();
  CHECK(st.blocks_cached == 3);  // the full blocks of `first` stay; the partial one is free
  CHECK(st.blocks_in_use == 0);
  CHECK(st.hit_tokens == 0);
  CHECK(st.miss_tokens == 15);

  const auto second = concat(first, tokens(6, 200));  // the next turn: 21 tokens
  const seq_id b = *ctx->seq_create();
  const auto reused = ctx->seq_attach_prefix(b, second);
  REQUIRE(reused.has_value());
  CHECK(*reused == 12);
  CHECK(*ctx->seq_length(b) == 12);
  const auto with_reuse = run(*ctx, b, {second.begin() + 12, second.end()});
  // The prefix was computed in one pass of 15 tokens, the fresh one in a pass of 12: each
  // token's row goes through the same per-row arithmetic, so the logits agree bit for bit.
  CHECK(with_reuse == fresh(m, second, 12));
  CHECK(rel_max_diff(with_reuse, fresh(m, second, 0)) < 1e-5);  // one pass of all 21 tokens
  st = ctx->cache_stats();
  CHECK(st.hit_tokens == 12);
  CHECK(st.miss_tokens == 15 + 9);
  CHECK(st.computed_tokens == 15 + 9);

  SUBCASE("at least one token is left to compute") {
    const seq_id c = *ctx->seq_create();
    const std::vector<std::int32_t> exact(second.begin(), second.begin() + 12);  // 3 cached blocks exactly
    CHECK(*ctx->seq_attach_prefix(c, exact) == 8);
    CHECK(ctx->seq_attach_prefix(c, exact).error().code == errc::invalid_argument);  // not empty now
  }
  SUBCASE("a different start shares nothing, even with equal later blocks") {
    auto other = second;
    other[0] = other[0] == 1 ? 2 : 1;
    const seq_id c = *ctx->seq_create();
    CHECK(*ctx->seq_attach_prefix(c, other) == 0);
  }
}

TEST_CASE("two sequences sharing a prefix diverge without corrupting the shared blocks") {
  temp_dir dir("kv-share");
  auto m = make_model(dir, small_spec("qwen2", tensor_type::f16, false, 14), "m.gguf");
  auto ctx = make_ctx(m, {3, 64, 4});
  const auto prefix = tokens(13, 40);  // 3 full blocks + 1
  const seq_id a = *ctx->seq_create();
  run(*ctx, a, prefix);
  // b and c attach while a still runs: the blocks are shared live (refcount 3).
  const auto pb = concat(prefix, tokens(7, 300)), pc = concat(prefix, tokens(9, 77));
  const seq_id b = *ctx->seq_create(), c = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(b, pb) == 12);
  CHECK(*ctx->seq_attach_prefix(c, pc) == 12);
  CHECK(ctx->cache_stats().blocks_in_use == 4);  // 3 shared + a's partial tail
  // All three continue in one batch, a with its own tokens.
  batch together;
  together.add(a, tokens(11, 9)).add(b, {pb.begin() + 12, pb.end()}).add(c, {pc.begin() + 12, pc.end()});
  std::vector<float> logits;
  REQUIRE(ctx->decode(together, logits).has_value());
  const std::size_t n_vocab = ctx->n_vocab();
  const std::span<const float> lb(logits.data() + n_vocab, n_vocab), lc(logits.data() + 2 * n_vocab, n_vocab);
  CHECK(rel_max_diff(lb, fresh(m, pb, 12)) < 1e-6);
  CHECK(rel_max_diff(lc, fresh(m, pc, 12)) < 1e-6);
  // A later step of b still sees the prefix as computed.
  const auto step_b = run(*ctx, b, {5});
  {
    auto f = make_ctx(m, {1, 64, 4});
    const seq_id s = *f->seq_create();
    run(*f, s, {pb.begin(), pb.begin() + 12});
    run(*f, s, {pb.begin() + 12, pb.end()});
    CHECK(rel_max_diff(step_b, run(*f, s, {5})) < 1e-6);
  }

  SUBCASE("rewinding into a shared block gives the sequence its own copy") {
    // b rewinds to position 6 (inside shared block 1) and writes other tokens there.
    auto rewound = std::vector<std::int32_t>(pb.begin(), pb.begin() + 6);
    const auto tail = tokens(5, 450);
    rewound = concat(rewound, tail);
    batch rw;
    rw.entries.push_back({b, tail, 6, logits_mode::last});
    REQUIRE(ctx->decode(rw, logits).has_value());
    CHECK(*ctx->seq_length(b) == 11);
    CHECK(rel_max_diff(logits, fresh(m, rewound, 6)) < 1e-6);
    // c, which shares blocks 0..2 with what b had, is unaffected.
    const auto step_c = run(*ctx, c, {5});
    auto f = make_ctx(m, {1, 64, 4});
    const seq_id s = *f->seq_create();
    run(*f, s, {pc.begin(), pc.begin() + 12});
    run(*f, s, {pc.begin() + 12, pc.end()});
    CHECK(rel_max_diff(step_c, run(*f, s, {5})) < 1e-6);
    // And a new sequence still finds the original prefix blocks, plus the two full blocks
    // b computed after them before its rewind (released to the cache by the rewind).
    REQUIRE(ctx->seq_remove(a).has_value());
    const seq_id d = *ctx->seq_create();
    CHECK(*ctx->seq_attach_prefix(d, pb) == 16);
    const auto again = run(*ctx, d, {pb.begin() + 16, pb.end()});
    CHECK(rel_max_diff(again, fresh(m, pb, 12)) < 1e-6);
  }
  SUBCASE("a rewind to a block boundary drops the shared blocks after it") {
    batch rw;
    rw.entries.push_back({b, {1, 2, 3}, 4, logits_mode::last});
    REQUIRE(ctx->decode(rw, logits).has_value());
    CHECK(*ctx->seq_length(b) == 7);
    CHECK(rel_max_diff(logits, fresh(m, {pb[0], pb[1], pb[2], pb[3], 1, 2, 3}, 4)) < 1e-6);
  }
}

TEST_CASE("LRU eviction under a small budget, with counters") {
  temp_dir dir("kv-lru");
  auto m = make_model(dir, small_spec("llama", tensor_type::f16, true, 15), "m.gguf");
  auto ctx = make_ctx(m, {2, 64, 4, 6});  // 6 blocks of 4 positions
  CHECK(ctx->cache_stats().blocks_total == 6);
  const auto p1 = tokens(9, 10), p2 = tokens(9, 20), p3 = tokens(9, 30);  // 2 full blocks + 1 each
  for (const auto* p : {&p1, &p2}) {
    const seq_id s = *ctx->seq_create();
    run(*ctx, s, *p);
    REQUIRE(ctx->seq_remove(s).has_value());
  }
  auto st = ctx->cache_stats();
  CHECK(st.blocks_cached == 4);
  CHECK(st.evictions == 0);
  // Touch p1 again: it becomes the most recently used.
  {
    const seq_id s = *ctx->seq_create();
    CHECK(*ctx->seq_attach_prefix(s, p1) == 8);
    REQUIRE(ctx->seq_remove(s).has_value());
  }
  // p3 needs 3 blocks: 2 free ones, then the least recently used cached block (p2's tail).
  {
    const seq_id s = *ctx->seq_create();
    run(*ctx, s, p3);
    st = ctx->cache_stats();
    CHECK(st.evictions == 1);
    CHECK(st.blocks_in_use == 3);
    REQUIRE(ctx->seq_remove(s).has_value());
  }
  const seq_id s = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(s, p1) == 8);  // kept: recently used
  REQUIRE(ctx->seq_remove(s).has_value());
  const seq_id t = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(t, p2) == 4);  // its second block was evicted
  REQUIRE(ctx->seq_remove(t).has_value());
  const seq_id u = *ctx->seq_create();
  CHECK(*ctx->seq_attach_prefix(u, p3) == 8);
  st = ctx->cache_stats();
  CHECK(st.hit_tokens == 8 + 8 + 4 + 8);
}

TEST_CASE("running out of blocks is context_full and changes nothing") {
  temp_dir dir("kv-out");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 16), "m.gguf");
  auto ctx = make_ctx(m, {2, 64, 4, 5});  // 5 blocks: 20 positions for both sequences
  const seq_id a = *ctx->seq_create(), b = *ctx->seq_create();
  run(*ctx, a, tokens(10, 1));  // 3 blocks
  const auto before = ctx->cache_stats();
  batch too_much;
  too_much.add(a, {1, 2}).add(b, tokens(9, 2));  // a needs 0 more, b 3: only 2 left
  std::vector<float> logits;
  auto r = ctx->decode(too_much, logits);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::context_full);
  CHECK(*ctx->seq_length(a) == 10);
  CHECK(*ctx->seq_length(b) == 0);
  const auto after = ctx->cache_stats();
  CHECK(after.blocks_in_use == before.blocks_in_use);
  CHECK(after.computed_tokens == before.computed_tokens);
  // a still computes correctly, and b fits once a is gone.
  const auto step = run(*ctx, a, {3});
  CHECK(rel_max_diff(step, fresh(m, concat(tokens(10, 1), {3}), 10)) < 1e-6);
  REQUIRE(ctx->seq_remove(a).has_value());
  CHECK(ctx->decode(too_much, logits).error().code == errc::invalid_argument);  // a is gone
  batch just_b;
  just_b.add(b, tokens(9, 2));
  CHECK(ctx->decode(just_b, logits).has_value());
  // A budget below one block is refused at creation.
  context_params p;
  p.kv_budget_bytes = 10;
  CHECK(context::create(m, p).error().code == errc::invalid_argument);
  p.kv_budget_bytes = 0;
  p.kv_type = tensor_type::q8_0;
  CHECK(context::create(m, p).error().code == errc::invalid_argument);
}
