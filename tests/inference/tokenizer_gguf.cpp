// tokenizer::from_gguf on small GGUF files written by the test itself (no model files needed).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/gguf_bytes.hpp"
#include "support/temp_dir.hpp"
#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

using namespace troupe::inference;
using troupe::test::gguf_bytes;

namespace {

using ids = std::vector<int32_t>;

void arr_str(gguf_bytes& g, std::string_view key, const std::vector<std::string>& v) {
  g.str(key).u32(9).u32(8).u64(v.size());
  for (const auto& s : v) g.str(s);
}
void arr_i32(gguf_bytes& g, std::string_view key, const std::vector<int32_t>& v) {
  g.str(key).u32(9).u32(5).u64(v.size());
  for (const int32_t x : v) g.put(x);
}
void arr_f32(gguf_bytes& g, std::string_view key, const std::vector<float>& v) {
  g.str(key).u32(9).u32(6).u64(v.size());
  for (const float x : v) g.put(x);
}
void kv_bool(gguf_bytes& g, std::string_view key, bool v) {
  g.str(key).u32(7).u8(v ? 1 : 0);
}

result<tokenizer> load(const troupe::test::temp_dir& dir, const gguf_bytes& g) {
  const auto path = dir / "vocab.gguf";
  g.write(path);
  auto file = gguf_file::open(path);
  REQUIRE_MESSAGE(file.has_value(), (file.has_value() ? std::string() : file.error().message));
  return tokenizer::from_gguf(*file);
}

} // namespace

TEST_CASE("a byte-level BPE vocabulary is read from GGUF") {
  troupe::test::temp_dir dir;
  gguf_bytes g;
  g.header(3, 0, 8);
  g.kv_string("tokenizer.ggml.model", "gpt2");
  g.kv_string("tokenizer.ggml.pre", "qwen2");
  arr_str(g, "tokenizer.ggml.tokens",
          {"h", "i", "\xC4\xA0", "hi", "\xC4\xA0hi", "<|im_start|>", "<|im_end|>", "<|endoftext|>"});
  arr_i32(g, "tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 3, 3, 3});
  arr_str(g, "tokenizer.ggml.merges", {"h i", "\xC4\xA0 hi"});
  g.kv_u32("tokenizer.ggml.eos_token_id", 7);
  g.kv_u32("tokenizer.ggml.bos_token_id", 7);
  kv_bool(g, "tokenizer.ggml.add_bos_token", false);
  g.pad(32);
  auto tok = load(dir, g);
  REQUIRE_MESSAGE(tok.has_value(), (tok.has_value() ? std::string() : tok.error().message));
  CHECK(tok->kind() == vocab_kind::bpe);
  CHECK(tok->n_vocab() == 8);
  CHECK(tok->encode("hi hi", true, false) == ids{3, 4});  // add_bos_token = false
  CHECK(tok->encode("<|im_start|>hi<|im_end|>", false, true) == ids{5, 3, 6});
  CHECK(tok->eos() == 7);
  CHECK(tok->eot() == 6);
  CHECK(tok->is_eog(6));
  CHECK(tok->is_eog(7));
  CHECK(tok->decode(ids{5, 3, 4, 6}) == "hi hi");
}

TEST_CASE("a SentencePiece vocabulary is read from GGUF with scores and defaults") {
  troupe::test::temp_dir dir;
  gguf_bytes g;
  g.header(3, 0, 4);
  g.kv_string("tokenizer.ggml.model", "llama");
  arr_str(g, "tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "\xE2\x96\x81" "a"});
  arr_f32(g, "tokenizer.ggml.scores", {0, 0, 0, -1, -1, -2});
  arr_i32(g, "tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  g.pad(32);
  auto tok = load(dir, g);
  REQUIRE_MESSAGE(tok.has_value(), (tok.has_value() ? std::string() : tok.error().message));
  CHECK(tok->bos() == 1);  // llama.cpp's defaults for SentencePiece vocabularies
  CHECK(tok->eos() == 2);
  CHECK(tok->encode("a a", true, false) == ids{1, 5, 5});
  CHECK(tok->decode(ids{1, 5, 5}) == "a a");
}

TEST_CASE("unsupported or malformed tokenizer metadata is an error") {
  troupe::test::temp_dir dir;
  {
    gguf_bytes g;
    g.header(3, 0, 2);
    g.kv_string("tokenizer.ggml.model", "bert");
    arr_str(g, "tokenizer.ggml.tokens", {"a"});
    g.pad(32);
    auto tok = load(dir, g);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().code == errc::unsupported);
    CHECK(tok.error().message.find("bert") != std::string::npos);
  }
  {
    gguf_bytes g;
    g.header(3, 0, 1);
    g.kv_string("tokenizer.ggml.model", "llama");
    g.pad(32);
    auto tok = load(dir, g);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().message.find("tokenizer.ggml.tokens") != std::string::npos);
  }
  {
    gguf_bytes g;
    g.header(3, 0, 3);
    g.kv_string("tokenizer.ggml.model", "gpt2");
    g.kv_string("tokenizer.ggml.pre", "chameleon");
    arr_str(g, "tokenizer.ggml.tokens", {"a"});
    g.pad(32);
    auto tok = load(dir, g);
    REQUIRE_FALSE(tok.has_value());  // BPE without tokenizer.ggml.merges
    CHECK(tok.error().message.find("tokenizer.ggml.merges") != std::string::npos);
  }
  {
    gguf_bytes g;
    g.header(3, 0, 4);
    g.kv_string("tokenizer.ggml.model", "gpt2");
    g.kv_string("tokenizer.ggml.pre", "chameleon");
    arr_str(g, "tokenizer.ggml.tokens", {"a"});
    arr_str(g, "tokenizer.ggml.merges", {});
    g.pad(32);
    auto tok = load(dir, g);
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error().code == errc::unsupported);
    CHECK(tok.error().message.find("chameleon") != std::string::npos);
  }
}
