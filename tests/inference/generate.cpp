// The generation loop: stop strings, UTF-8 streaming, EOG, cancellation, limits.
#include <doctest/doctest.h>

#include <troupe/inference/generate.hpp>
#include <troupe/inference/vocab.hpp>

#include <fmt/format.h>

#include "engine_helpers.hpp"

using namespace troupe::inference;
using troupe::test::make_model;
using troupe::test::small_spec;
using troupe::test::temp_dir;

namespace {

/// A 512-entry vocabulary: ids 0..255 are byte tokens (so generation emits arbitrary bytes,
/// including partial UTF-8 sequences), 256..511 are ASCII words "w256 " ... "w511 ".
tokenizer byte_vocab(std::int32_t eos = -1) {
  vocab_data v;
  v.kind = vocab_kind::spm;
  for (int i = 0; i < 256; ++i) {
    v.tokens.push_back(fmt::format("<0x{:02X}>", i));
    v.types.push_back(token_type::byte);
  }
  for (int i = 256; i < 512; ++i) {
    v.tokens.push_back(fmt::format("w{}", i));
    v.types.push_back(token_type::normal);
  }
  v.eos = eos;
  v.add_bos = false;
  return tokenizer(std::move(v));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

std::unique_ptr<context> make_context(std::shared_ptr<const model> m, std::size_t n_ctx = 128) {
  context_params p;
  p.n_ctx = n_ctx;
  p.n_threads = 2;
  auto ctx = context::create(std::move(m), p);
  REQUIRE(ctx.has_value());
  return std::move(*ctx);
}

generate_params greedy(std::size_t n) {
  generate_params p;
  p.max_tokens = n;
  p.sampling.temperature = 0;
  return p;
}

const std::vector<std::int32_t> prompt{300, 72, 101, 108, 108, 111, 260, 261, 262, 263, 264, 265};

} // namespace

TEST_CASE("stop_matcher holds back possible stop prefixes and cuts at the stop") {
  stop_matcher s({"END", "</s>"});
  CHECK(s.push("hello E") == "hello ");
  CHECK(s.push("N") == "");
  CHECK(s.push("x world <") == "ENx world ");
  CHECK(s.push("/s> tail") == "");
  CHECK(s.stopped());
  CHECK(s.push("more") == "");
  CHECK(s.flush() == "");

  stop_matcher t({"abc"});
  CHECK(t.push("xxab") == "xx");
  CHECK(t.flush() == "ab");  // generation ended without the stop: the held text is output
  stop_matcher none({});
  CHECK(none.push("anything") == "anything");
}

TEST_CASE("generation streams whole UTF-8 text and honours max_tokens") {
  temp_dir dir("gen-stream");
  auto m = make_model(dir, small_spec("llama", tensor_type::f32, false, 11), "m.gguf");
  const auto tok = byte_vocab();
  auto ctx = make_context(m);
  std::string streamed;
  bool all_valid = true;
  auto r = generate(*ctx, tok, prompt, greedy(48), [&](std::string_view piece) {
    all_valid = all_valid && valid_utf8(piece);
    streamed += piece;
    return true;
  });
  REQUIRE(r.has_value());
  CHECK(r->tokens.size() == 48);
  CHECK(r->reason == stop_reason::max_tokens);
  CHECK(all_valid);
  CHECK(valid_utf8(r->text));
  CHECK(streamed == r->text);
  CHECK(r->stats.prompt_tokens == prompt.size());
  CHECK(r->stats.generated_tokens == 48);
  CHECK(*ctx->seq_create() == 0);  // the generation's sequence was removed again

  SUBCASE("a stop string ends generation and is not output") {
    // Pick the piece of a word token from the middle of the greedy continuation.
    std::string stop;
    for (std::size_t i = 4; i < r->tokens.size() && stop.empty(); ++i)
      if (r->tokens[i] >= 256) stop = tok.token_to_piece(r->tokens[i]);
    REQUIRE_FALSE(stop.empty());
    const auto expected = r->text.substr(0, r->text.find(stop));
    auto ctx2 = make_context(m);
    auto p = greedy(48);
    p.stop = {stop};
    std::string streamed2;
    auto r2 = generate(*ctx2, tok, prompt, p, [&](std::string_view piece) {
      streamed2 += piece;
      return true;
    });
    REQUIRE(r2.has_value());
    CHECK(r2->reason == stop_reason::stop_string);
    CHECK(r2->text == expected);
    CHECK(streamed2 == expected);
  }
  SUBCASE("an end-of-generation token ends generation") {
    const std::int32_t eos = r->tokens[5];
    std::size_t first = 0;
    while (r->tokens[first] != eos) ++first;
    auto ctx2 = make_context(m);
    auto r2 = generate(*ctx2, byte_vocab(eos), prompt, greedy(48));
    REQUIRE(r2.has_value());
    CHECK(r2->reason == stop_reason::eog);
    CHECK(r2->tokens.size() == first + 1);
    CHECK(r2->tokens.back() == eos);
  }
  SUBCASE("the callback cancels") {
    auto ctx2 = make_context(m);
    int calls = 0;
    auto r2 = generate(*ctx2, tok, prompt, greedy(48), [&](std::string_view) { return ++calls < 3; });
    REQUIRE(r2.has_value());
    CHECK(r2->reason == stop_reason::cancelled);
    CHECK(calls == 3);
    CHECK(r2->tokens.size() < 48);
  }
  SUBCASE("a cancel flag set beforehand stops before the first token") {
    auto ctx2 = make_context(m);
    std::atomic<bool> cancel{true};
    auto r2 = generate(*ctx2, tok, prompt, greedy(48), {}, &cancel);
    REQUIRE(r2.has_value());
    CHECK(r2->reason == stop_reason::cancelled);
    CHECK(r2->tokens.empty());
  }
}

TEST_CASE("sampling is deterministic for a seed; context limits are reported") {
  temp_dir dir("gen-seed");
  auto m = make_model(dir, small_spec("qwen2", tensor_type::f16, true, 12), "m.gguf");
  const auto tok = byte_vocab();
  generate_params p;
  p.max_tokens = 24;
  p.sampling.temperature = 1.0f;
  p.sampling.seed = 1234;
  auto c1 = make_context(m), c2 = make_context(m);
  auto a = generate(*c1, tok, prompt, p), b = generate(*c2, tok, prompt, p);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->tokens == b->tokens);

  auto small = make_context(m, 16);
  auto r = generate(*small, tok, prompt, greedy(10));
  REQUIRE(r.has_value());
  CHECK(r->reason == stop_reason::context_full);
  CHECK(r->tokens.size() == 16 - prompt.size() + 1);  // the last one needs no cache slot
  auto too_long = make_context(m, 8);
  auto e = generate(*too_long, tok, prompt, greedy(4));
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().code == errc::context_full);
}
