// write_random_model: determinism, llama.cpp's metadata and tensor layout, the synthetic
// vocabularies, weight statistics and f16/bf16 rounding. (Loading by llama.cpp itself is
// tested in model_gen_llama.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::inference;

/// Requires a result to hold a value, showing its error message otherwise.
#define REQUIRE_OK(expr)                                   \
  do {                                                     \
    auto r_ = (expr);                                      \
    REQUIRE_MESSAGE(r_.has_value(), r_.error().message);   \
  } while (0)

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Test-local decoders (independent of the generator's encoders).
float f16_to_f32(std::uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int man = h & 0x3ff;
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  if (exp == 0) return sign * std::ldexp(static_cast<float>(man), -24);
  if (exp == 31) return man ? NAN : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(man + 1024), exp - 25);
}
float bf16_to_f32(std::uint16_t h) {
  const std::uint32_t x = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

std::vector<float> values_of(const gguf_tensor& t) {
  std::vector<float> out(t.n_elements());
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint16_t h = 0;
    switch (t.type) {
      case tensor_type::f32: std::memcpy(&out[i], t.data + 4 * i, 4); break;
      case tensor_type::f16: std::memcpy(&h, t.data + 2 * i, 2); out[i] = f16_to_f32(h); break;
      case tensor_type::bf16: std::memcpy(&h, t.data + 2 * i, 2); out[i] = bf16_to_f32(h); break;
      default: FAIL("unexpected type");
    }
  }
  return out;
}

} // namespace

TEST_CASE("the same seed gives the same bytes; another seed other weights") {
  troupe::test::temp_dir dir;
  model_spec s;
  REQUIRE_OK(write_random_model(s, dir / "a.gguf"));
  REQUIRE_OK(write_random_model(s, dir / "b.gguf"));
  s.seed = 2;
  REQUIRE_OK(write_random_model(s, dir / "c.gguf"));
  CHECK(slurp(dir / "a.gguf") == slurp(dir / "b.gguf"));
  CHECK(slurp(dir / "a.gguf") != slurp(dir / "c.gguf"));
  CHECK(slurp(dir / "a.gguf").size() == slurp(dir / "c.gguf").size());
}

TEST_CASE("metadata and tensors follow llama.cpp's names and shapes") {
  troupe::test::temp_dir dir;
  for (std::string arch : {"llama", "qwen2"}) {
    for (bool tied : {false, true}) {
      CAPTURE(arch);
      CAPTURE(tied);
      model_spec s;
      s.arch = arch;
      s.tied_output = tied;
      s.n_layer = 3;
      REQUIRE_OK(write_random_model(s, dir / "m.gguf"));
      auto f = gguf_file::open(dir / "m.gguf");
      REQUIRE_MESSAGE(f.has_value(), f.error().message);
      const std::string a = arch;
      CHECK(*f->get_string("general.architecture") == a);
      CHECK(*f->get_u32(a + ".context_length") == s.n_ctx);
      CHECK(*f->get_u32(a + ".embedding_length") == s.n_embd);
      CHECK(*f->get_u32(a + ".block_count") == 3);
      CHECK(*f->get_u32(a + ".feed_forward_length") == s.n_ff);
      CHECK(*f->get_u32(a + ".attention.head_count") == s.n_head);
      CHECK(*f->get_u32(a + ".attention.head_count_kv") == s.n_head_kv);
      CHECK(*f->get_f32(a + ".attention.layer_norm_rms_epsilon") == s.rms_eps);
      CHECK(*f->get_f32(a + ".rope.freq_base") == s.rope_theta);
      CHECK(*f->get_string("tokenizer.ggml.model") == "llama");
      CHECK(*f->get_u32("tokenizer.ggml.bos_token_id") == 1);
      CHECK(*f->get_u32("tokenizer.ggml.eos_token_id") == 2);

      const std::uint64_t kv = s.n_embd / s.n_head * s.n_head_kv;
      const std::size_t per_layer = a == "qwen2" ? 12 : 9;
      CHECK(f->tensors().size() == 2 + (tied ? 0 : 1) + 3 * per_layer);
      CHECK(f->find_tensor("token_embd.weight")->shape == std::vector<std::uint64_t>{s.n_embd, s.n_vocab});
      CHECK((f->find_tensor("output.weight") == nullptr) == tied);
      CHECK(f->find_tensor("output_norm.weight")->shape == std::vector<std::uint64_t>{s.n_embd});
      CHECK(f->find_tensor("output_norm.weight")->type == tensor_type::f32);
      CHECK(f->find_tensor("blk.2.attn_q.weight")->shape == std::vector<std::uint64_t>{s.n_embd, s.n_embd});
      CHECK(f->find_tensor("blk.2.attn_k.weight")->shape == std::vector<std::uint64_t>{s.n_embd, kv});
      CHECK(f->find_tensor("blk.2.attn_v.weight")->shape == std::vector<std::uint64_t>{s.n_embd, kv});
      CHECK(f->find_tensor("blk.2.attn_output.weight")->shape == std::vector<std::uint64_t>{s.n_embd, s.n_embd});
      CHECK(f->find_tensor("blk.2.ffn_gate.weight")->shape == std::vector<std::uint64_t>{s.n_embd, s.n_ff});
      CHECK(f->find_tensor("blk.2.ffn_up.weight")->shape == std::vector<std::uint64_t>{s.n_embd, s.n_ff});
      CHECK(f->find_tensor("blk.2.ffn_down.weight")->shape == std::vector<std::uint64_t>{s.n_ff, s.n_embd});
      CHECK(f->find_tensor("blk.0.attn_norm.weight") != nullptr);
      CHECK(f->find_tensor("blk.0.ffn_norm.weight") != nullptr);
      CHECK((f->find_tensor("blk.1.attn_k.bias") != nullptr) == (a == "qwen2"));
      if (a == "qwen2") CHECK(f->find_tensor("blk.1.attn_k.bias")->shape == std::vector<std::uint64_t>{kv});
    }
  }
}

TEST_CASE("the synthetic vocabulary: specials, bytes, distinct pieces, descending scores") {
  troupe::test::temp_dir dir;
  for (std::uint32_t n_vocab : {259u, 512u, 49152u}) {
    model_spec s;
    s.n_vocab = n_vocab;
    s.n_embd = 32;
    s.n_head = 2;
    s.n_head_kv = 1;
    s.n_ff = 32;
    s.n_layer = 1;
    REQUIRE_OK(write_random_model(s, dir / "v.gguf"));
    auto f = gguf_file::open(dir / "v.gguf");
    REQUIRE(f.has_value());
    auto tokens = *f->get_string_array("tokenizer.ggml.tokens");
    auto scores = *f->get_f32_array("tokenizer.ggml.scores");
    auto types = *f->get_i32_array("tokenizer.ggml.token_type");
    REQUIRE(tokens.size() == n_vocab);
    REQUIRE(scores.size() == n_vocab);
    REQUIRE(types.size() == n_vocab);
    CHECK(tokens[0] == "<unk>");
    CHECK(types[0] == 2);
    CHECK(tokens[1] == "<s>");
    CHECK(tokens[2] == "</s>");
    CHECK(types[1] == 3);
    CHECK(types[2] == 3);
    CHECK(tokens[3] == "<0x00>");
    CHECK(tokens[3 + 0x0A] == "<0x0A>");
    CHECK(tokens[258] == "<0xFF>");
    for (int i = 3; i < 259; ++i) CHECK(types[i] == 6);
    std::set<std::string_view> distinct(tokens.begin(), tokens.end());
    CHECK(distinct.size() == n_vocab);
    bool descending = true;
    for (std::size_t i = 259; i < n_vocab; ++i) {
      descending = descending && types[i] == 1 && (i == 259 || scores[i] < scores[i - 1]);
    }
    CHECK(descending);
    if (n_vocab > 300) {
      CHECK(tokens[259] == "\xe2\x96\x81");
      CHECK(distinct.count("\xe2\x96\x81the") == 1);
      CHECK(distinct.count("a") == 1);
    }
  }
}

TEST_CASE("the synthetic gpt2 vocabulary: byte characters, consistent merges, <|endoftext|>") {
  troupe::test::temp_dir dir;
  for (std::uint32_t n_vocab : {257u, 1000u, 49152u}) {
    model_spec s;
    s.tokenizer = "gpt2";
    s.n_vocab = n_vocab;
    s.n_embd = 32;
    s.n_head = 2;
    s.n_head_kv = 1;
    s.n_ff = 32;
    s.n_layer = 1;
    REQUIRE_OK(write_random_model(s, dir / "v.gguf"));
    auto f = gguf_file::open(dir / "v.gguf");
    REQUIRE(f.has_value());
    CHECK(*f->get_string("tokenizer.ggml.model") == "gpt2");
    CHECK(*f->get_string("tokenizer.ggml.pre") == "default");
    auto tokens = *f->get_string_array("tokenizer.ggml.tokens");
    auto merges = *f->get_string_array("tokenizer.ggml.merges");
    auto types = *f->get_i32_array("tokenizer.ggml.token_type");
    REQUIRE(tokens.size() == n_vocab);
    CHECK(types.size() == n_vocab);
    CHECK(tokens[n_vocab - 1] == "<|endoftext|>");
    CHECK(types[n_vocab - 1] == 3);
    CHECK(*f->get_u32("tokenizer.ggml.eos_token_id") == n_vocab - 1);
    CHECK(tokens['A'] == "A");
    CHECK(tokens[' '] == "\xc4\xa0");   // "Ġ"
    CHECK(tokens['\n'] == "\xc4\x8a");  // "Ċ"
    CHECK(merges.size() == n_vocab - 257);
    std::set<std::string_view> distinct(tokens.begin(), tokens.end());
    CHECK(distinct.size() == n_vocab);
    bool consistent = true;
    for (std::size_t m = 0; m < merges.size(); ++m) {
      const auto sp = merges[m].find(' ', 1);
      const auto left = merges[m].substr(0, sp);
      const auto right = merges[m].substr(sp + 1);
      // Each merge joins two existing tokens into the token it introduces (id 256 + m).
      consistent = consistent && sp != std::string_view::npos && distinct.count(left) == 1 &&
                   distinct.count(right) == 1 &&
                   tokens[256 + m] == std::string(left) + std::string(right);
    }
    CHECK(consistent);
  }
}

TEST_CASE("weights: N(0, std) matrices, norms near 1; f16 and bf16 round the same values") {
  troupe::test::temp_dir dir;
  model_spec s;
  s.weight_std = 0.05f;
  REQUIRE_OK(write_random_model(s, dir / "f32.gguf"));
  auto f32 = gguf_file::open(dir / "f32.gguf");
  REQUIRE(f32.has_value());
  const auto w = values_of(*f32->find_tensor("blk.0.ffn_up.weight"));
  double sum = 0, sq = 0;
  for (float v : w) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  const double mean = sum / static_cast<double>(w.size());
  const double sd = std::sqrt(sq / static_cast<double>(w.size()) - mean * mean);
  CHECK(std::abs(mean) < 0.002);
  CHECK(sd == doctest::Approx(0.05).epsilon(0.02));
  for (float v : values_of(*f32->find_tensor("output_norm.weight"))) CHECK(std::abs(v - 1.0f) < 0.05f);

  for (auto type : {tensor_type::f16, tensor_type::bf16}) {
    CAPTURE(traits_of(type).name);
    s.weight_type = type;
    REQUIRE_OK(write_random_model(s, dir / "h.gguf"));
    auto h = gguf_file::open(dir / "h.gguf");
    REQUIRE(h.has_value());
    const gguf_tensor* t = h->find_tensor("blk.0.ffn_up.weight");
    CHECK(t->type == type);
    CHECK(h->find_tensor("blk.0.ffn_norm.weight")->type == tensor_type::f32);
    const auto r = values_of(*t);
    REQUIRE(r.size() == w.size());
    // Round to nearest: the error is at most half a unit in the last place of the result.
    const int mant_bits = type == tensor_type::f16 ? 10 : 7;
    bool within = true;
    for (std::size_t i = 0; i < w.size(); ++i) {
      int e = 0;
      std::frexp(r[i], &e);
      const double half_ulp = std::ldexp(1.0, e - 1 - mant_bits - 1);
      const double floor_ulp = type == tensor_type::f16 ? std::ldexp(1.0, -25) : 0.0;
      within = within && std::abs(static_cast<double>(r[i]) - w[i]) <= std::max(half_ulp, floor_ulp);
    }
    CHECK(within);
  }
}

TEST_CASE("presets, type names and spec validation") {
  CHECK(model_preset("tiny")->n_embd == 256);
  auto smol = model_preset("smollm-360m");
  REQUIRE(smol.has_value());
  CHECK(smol->n_embd == 960);
  CHECK(smol->n_layer == 32);
  CHECK(smol->n_head == 15);
  CHECK(smol->n_head_kv == 5);
  CHECK(smol->n_ff == 2560);
  CHECK(smol->n_vocab == 49152);
  CHECK(smol->n_ctx == 2048);
  CHECK(validate(*smol).has_value());
  CHECK(model_preset("huge").error().code == errc::invalid_argument);
  CHECK(*parse_tensor_type("bf16") == tensor_type::bf16);
  CHECK(*parse_tensor_type("Q4_K") == tensor_type::q4_k);
  CHECK(parse_tensor_type("q9").error().code == errc::invalid_argument);

  model_spec s;
  s.arch = "gpt2";
  CHECK(validate(s).error().message == "model_spec: unknown arch 'gpt2' (llama, qwen2)");
  s = {};
  s.n_head = 3;
  CHECK(validate(s).error().message == "model_spec: n_embd 256 is not a multiple of n_head 3");
  s = {};
  s.n_head_kv = 3;
  CHECK(validate(s).error().code == errc::invalid_argument);
  s = {};
  s.n_vocab = 100;
  CHECK(validate(s).error().code == errc::invalid_argument);
  s = {};
  s.tokenizer = "wordpiece";
  CHECK(validate(s).error().message == "model_spec: unknown tokenizer 'wordpiece' (llama, gpt2)");
  s = {};
  s.n_ff = 100;
  s.weight_type = tensor_type::q4_k;
  CHECK(validate(s).error().message ==
        "model_spec: n_embd 256 and n_ff 100 must be multiples of the Q4_K block size 256");
}
