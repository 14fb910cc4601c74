// The fast forward pass (context) against the reference, and the context's batch semantics.
#include <doctest/doctest.h>

#include <troupe/inference/context.hpp>
#include <troupe/inference/reference.hpp>

#include <fmt/format.h>

#include "engine_helpers.hpp"

using namespace troupe::inference;
using troupe::test::argmax;
using troupe::test::make_model;
using troupe::test::rel_max_diff;
using troupe::test::small_spec;
using troupe::test::temp_dir;

namespace {

const std::vector<std::int32_t> prompt_a{1, 17, 300, 42, 7, 511, 256, 3, 99, 128, 64, 5};
const std::vector<std::int32_t> prompt_b{2, 400, 401, 9};
const std::vector<std::int32_t> prompt_c{3, 250, 60, 61, 62, 63, 8};

std::unique_ptr<context> make_context(std::shared_ptr<const model> m, std::size_t n_seq = 1,
                                      std::size_t n_ctx = 64, std::size_t n_batch_max = 512) {
  context_params p;
  p.n_seq_max = n_seq;
  p.n_ctx = n_ctx;
  p.n_threads = 2;
  p.n_batch_max = n_batch_max;
  auto ctx = context::create(std::move(m), p);
  REQUIRE(ctx.has_value());
  return std::move(*ctx);
}

/// Logits of every prompt position from the reference, (n, n_vocab).
std::vector<std::vector<float>> reference_logits(std::shared_ptr<const model> m,
                                                 const std::vector<std::int32_t>& prompt) {
  reference_forward ref(std::move(m), 64);
  std::vector<std::vector<float>> out;
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    auto l = ref.forward(prompt[i], i);
    REQUIRE(l.has_value());
    out.emplace_back(l->begin(), l->end());
  }
  return out;
}

/// Greedy tokens of `prompt` run alone.
std::vector<std::int32_t> greedy_alone(std::shared_ptr<const model> m,
                                       const std::vector<std::int32_t>& prompt, std::size_t n) {
  auto ctx = make_context(std::move(m));
  const seq_id s = *ctx->seq_create();
  std::vector<float> logits;
  batch b;
  b.add(s, prompt);
  REQUIRE(ctx->decode(b, logits).has_value());
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(argmax(logits));
    batch step;
    step.add(s, {out.back()});
    REQUIRE(ctx->decode(step, logits).has_value());
  }
  return out;
}

struct type_case {
  tensor_type type;
  double tolerance;  // max |fast - ref| / max |ref| over all logits of a position
};

// The fast path stores K/V in f16 (relative rounding 2^-11 per element; measured ~9e-4 on the
// logits); the quantized matmuls quantize activations to 8 bits per block (up to half a step
// of max|x_b|/127 per value, blocks of 32 for Q8_0/Q4_0 and, on the AVX-512 path, of 256 for
// Q4_K/Q6_K like llama.cpp's Q8_K). That alone is ~0.55% / ~0.7% rms per matmul, which these
// random weight_std 0.1 models amplify: measured 3.6e-2 .. 5.1e-2 (Q8_0/Q4_0) and 4.6e-2 ..
// 6.7e-2 (Q4_K/Q6_K; 7e-4 .. 1.1e-3 with TROUPE_SIMD=avx2, which does not round them).
const type_case type_cases[] = {
    {tensor_type::f32, 3e-3},  {tensor_type::f16, 3e-3},  {tensor_type::bf16, 3e-3},
    {tensor_type::q8_0, 8e-2}, {tensor_type::q4_0, 8e-2}, {tensor_type::q4_k, 8e-2},
    {tensor_type::q6_k, 8e-2},
};

} // namespace

TEST_CASE("fast forward pass matches the reference for every arch, type and output tying") {
  temp_dir dir("engine-ref");
  for (const char* arch : {"llama", "qwen2"})
    for (bool tied : {false, true})
      for (const auto& tc : type_cases) {
        const std::string name =
            fmt::format("{}-{}-{}", arch, traits_of(tc.type).name, tied ? "tied" : "untied");
        CAPTURE(name);
        if (!troupe::test::generator_supports(small_spec(arch, tc.type, tied))) continue;
        auto m = make_model(dir, small_spec(arch, tc.type, tied), name + ".gguf");
        CHECK(m->params().tied_output == tied);
        const auto ref = reference_logits(m, prompt_a);
        auto ctx = make_context(m);
        const seq_id s = *ctx->seq_create();
        batch b;
        b.add(s, prompt_a, logits_mode::all);
        std::vector<float> logits;
        REQUIRE(ctx->decode(b, logits).has_value());
        REQUIRE(logits.size() == prompt_a.size() * ctx->n_vocab());
        double worst = 0;
        for (std::size_t i = 0; i < prompt_a.size(); ++i) {
          const std::span<const float> row(logits.data() + i * ctx->n_vocab(), ctx->n_vocab());
          worst = std::max(worst, rel_max_diff(row, ref[i]));
        }
        MESSAGE(name << ": max relative logit difference " << worst);
        CHECK(worst < tc.tolerance);
      }
}

TEST_CASE("decoding several sequences in one batch gives the same greedy tokens as alone") {
  temp_dir dir("engine-batch");
  for (auto type : {tensor_type::f32, tensor_type::q8_0}) {
    if (!troupe::test::generator_supports(small_spec("llama", type, false, 7))) continue;
    auto m = make_model(dir, small_spec("llama", type, false, 7), "m.gguf");
    const std::vector<std::vector<std::int32_t>> prompts{prompt_a, prompt_b, prompt_c};
    const std::size_t n = 16;
    std::vector<std::vector<std::int32_t>> alone;
    for (const auto& p : prompts) alone.push_back(greedy_alone(m, p, n));

    auto ctx = make_context(m, prompts.size());
    std::vector<seq_id> seqs;
    batch prefill;  // all prompts in one batch: prefill of several sequences at once
    for (const auto& p : prompts) {
      seqs.push_back(*ctx->seq_create());
      prefill.add(seqs.back(), p);
    }
    std::vector<float> logits;
    REQUIRE(ctx->decode(prefill, logits).has_value());
    std::vector<std::vector<std::int32_t>> together(prompts.size());
    for (std::size_t step = 0; step < n; ++step) {
      batch b;
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        const std::span<const float> row(logits.data() + i * ctx->n_vocab(), ctx->n_vocab());
        together[i].push_back(argmax(row));
        b.add(seqs[i], {together[i].back()});
      }
      REQUIRE(ctx->decode(b, logits).has_value());
    }
    CHECK(together == alone);
  }
}

TEST_CASE("KV cache: prefill N then decode one equals prefill N+1") {
  temp_dir dir("engine-kv");
  auto m = make_model(dir, small_spec("qwen2", tensor_type::f16, false, 3), "m.gguf");
  auto ctx = make_context(m, 2);
  const seq_id a = *ctx->seq_create(), b = *ctx->seq_create();
  std::vector<float> full, split;
  batch whole;
  whole.add(a, prompt_a);
  REQUIRE(ctx->decode(whole, full).has_value());

  std::vector<std::int32_t> head(prompt_a.begin(), prompt_a.end() - 1);
  batch first;
  first.add(b, head);
  REQUIRE(ctx->decode(first, split).has_value());
  batch last;
  last.add(b, {prompt_a.back()});
  REQUIRE(ctx->decode(last, split).has_value());
  CHECK(*ctx->seq_length(b) == prompt_a.size());
  CHECK(rel_max_diff(split, full) < 1e-4);

  SUBCASE("splitting a batch into passes changes nothing") {
    auto small = make_context(m, 1, 64, 5);  // passes of at most 5 tokens
    const seq_id s = *small->seq_create();
    std::vector<float> chunked;
    batch again;
    again.add(s, prompt_a);
    REQUIRE(small->decode(again, chunked).has_value());
    CHECK(rel_max_diff(chunked, full) < 1e-4);
  }
  SUBCASE("rewinding a sequence recomputes from that position") {
    batch rewind;
    rewind.entries.push_back({b, {prompt_a.back()}, prompt_a.size() - 1, logits_mode::last});
    std::vector<float> again;
    REQUIRE(ctx->decode(rewind, again).has_value());
    CHECK(*ctx->seq_length(b) == prompt_a.size());
    CHECK(rel_max_diff(again, full) < 1e-4);
  }
}

TEST_CASE("a full context is an error, never a crash, and changes nothing") {
  temp_dir dir("engine-full");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, true, 5), "m.gguf");
  auto ctx = make_context(m, 1, 8);
  const seq_id s = *ctx->seq_create();
  std::vector<float> logits;
  batch six;
  six.add(s, {1, 2, 3, 4, 5, 6});
  REQUIRE(ctx->decode(six, logits).has_value());
  batch three;
  three.add(s, {7, 8, 9});
  auto r = ctx->decode(three, logits);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::context_full);
  CHECK(*ctx->seq_length(s) == 6);
  batch two;
  two.add(s, {7, 8});
  CHECK(ctx->decode(two, logits).has_value());
  CHECK(*ctx->seq_length(s) == 8);

  auto no_slot = ctx->seq_create();
  REQUIRE_FALSE(no_slot.has_value());
  CHECK(no_slot.error().code == errc::context_full);
  REQUIRE(ctx->seq_remove(s).has_value());
  CHECK(ctx->seq_create().has_value());
}

TEST_CASE("bad batches are rejected before anything changes") {
  temp_dir dir("engine-bad");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 5), "m.gguf");
  auto ctx = make_context(m, 2, 16);
  const seq_id s = *ctx->seq_create();
  std::vector<float> logits;
  batch bad_token;
  bad_token.add(s, {1, 512});
  CHECK(ctx->decode(bad_token, logits).error().code == errc::invalid_argument);
  batch unknown;
  unknown.add(1, {1});
  CHECK(ctx->decode(unknown, logits).error().code == errc::invalid_argument);
  batch twice;
  twice.add(s, {1}).add(s, {2});
  CHECK(ctx->decode(twice, logits).error().code == errc::invalid_argument);
  batch gap;
  gap.entries.push_back({s, {1}, 3, logits_mode::last});
  CHECK(ctx->decode(gap, logits).error().code == errc::invalid_argument);
  CHECK(*ctx->seq_length(s) == 0);
}

// Decode attention splits a token's positions into parts over the threads and merges their
// softmaxes (engine/attention.cpp); a prefill attends per kv head in one piece. Decoding a
// long sequence one token at a time (up to four parts per step) must give the prefill's
// logits at every position.
TEST_CASE("decoding one token at a time equals one prefill at every position (attention parts merged)") {
  temp_dir dir("engine-parts");
  auto m = make_model(dir, small_spec("llama", tensor_type::f16, false, 21), "m.gguf");
  std::vector<std::int32_t> prompt;
  for (std::int32_t i = 0; i < 70; ++i) prompt.push_back((i * 37 + 11) % 500);
  auto ctx = make_context(m, 2, 128);
  const seq_id whole = *ctx->seq_create(), steps = *ctx->seq_create();
  std::vector<float> all;
  batch b;
  b.add(whole, prompt, logits_mode::all);
  REQUIRE(ctx->decode(b, all).has_value());
  const std::size_t nv = ctx->n_vocab();
  double worst = 0;
  for (std::size_t i = 0; i < prompt.size(); ++i) {
    std::vector<float> one;
    batch step;
    step.add(steps, {prompt[i]});
    REQUIRE(ctx->decode(step, one).has_value());
    const std::vector<float> expect(all.begin() + static_cast<std::ptrdiff_t>(i * nv),
                                    all.begin() + static_cast<std::ptrdiff_t>((i + 1) * nv));
    worst = std::max(worst, rel_max_diff(one, expect));
  }
  MESSAGE("max relative logit difference, step by step vs prefill: " << worst);
  // ~9e-5 here, as much without the split: the one-token and many-token matmul kernels sum in
  // different orders; a wrong merge (a part's weight off) moves logits by far more.
  CHECK(worst < 2e-4);
}
