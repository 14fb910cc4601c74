// Generated models in llama.cpp itself, through the test-only llama_oracle program: every
// architecture, weight type, tokenizer and tied/untied output loads and evaluates, and the
// synthetic vocabularies tokenize text the same way in troupe and in llama.cpp. Skipped
// visibly when .deps/llama (and so the oracle) is absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/model_gen.hpp>
#include <troupe/inference/vocab.hpp>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using namespace troupe::inference;
using troupe::test::run_command;

namespace {

std::filesystem::path oracle_path() { return troupe::test::binary_dir() / "bin/llama_oracle"; }

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The integers after `key ` on the line starting with `key` in `out`.
std::vector<int> ids_after(const std::string& out, const std::string& key) {
  std::vector<int> ids;
  const auto at = out.find(key + " ");
  if (at == std::string::npos) return ids;
  std::istringstream line(out.substr(at + key.size(), out.find('\n', at) - at - key.size()));
  for (int v = 0; line >> v;) ids.push_back(v);
  return ids;
}

/// Single-quotes `s` for /bin/sh.
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

} // namespace

TEST_CASE("llama.cpp loads and runs generated models") {
  if (!std::filesystem::exists(oracle_path())) {
    MESSAGE("SKIPPED: llama_oracle not built (.deps/llama absent)");
    return;
  }
  troupe::test::temp_dir dir;
  struct variant {
    const char* arch;
    tensor_type type;
    bool tied;
    const char* tokenizer;
  };
  std::vector<variant> variants;
  for (const char* arch : {"llama", "qwen2"})
    for (auto type : {tensor_type::f32, tensor_type::f16, tensor_type::bf16})
      for (bool tied : {false, true}) variants.push_back({arch, type, tied, "llama"});
  variants.push_back({"llama", tensor_type::f32, false, "gpt2"});
  variants.push_back({"qwen2", tensor_type::bf16, true, "gpt2"});
  for (const auto& v : variants) {
    CAPTURE(std::string{v.arch});
    CAPTURE(traits_of(v.type).name);
    CAPTURE(v.tied);
    CAPTURE(std::string{v.tokenizer});
    model_spec s;
    s.arch = v.arch;
    s.weight_type = v.type;
    s.tied_output = v.tied;
    s.tokenizer = v.tokenizer;
    const auto model = dir / "m.gguf";
    const auto logits = dir / "logits.f32";
    REQUIRE(write_random_model(s, model).has_value());
    auto r = run_command(oracle_path().string() + " " + model.string() +
                         " --tokens 1,300,400,500 --greedy 3 --dump-logits " + logits.string());
    REQUIRE_MESSAGE(r.status == 0, r.output);
    CHECK(r.output.find("n_vocab 512\n") != std::string::npos);
    CHECK(r.output.find("n_embd 256\n") != std::string::npos);
    CHECK(r.output.find("n_layer 2\n") != std::string::npos);
    const auto greedy = ids_after(r.output, "greedy");
    CHECK(greedy.size() == 3);
    const std::string raw = slurp(logits);
    REQUIRE(raw.size() == (4 + 2) * 512 * sizeof(float));
    std::vector<float> l(raw.size() / 4);
    std::memcpy(l.data(), raw.data(), raw.size());
    bool finite = true;
    for (float x : l) finite = finite && std::isfinite(x);
    CHECK(finite);
    CHECK(l[0] != l[1]);        // not a constant row
    CHECK(l[512 + 7] != l[7]);  // positions differ
    // The greedy tokens are the argmax of the rows that produced them.
    for (std::size_t k = 0; k < greedy.size(); ++k) {
      const float* row = l.data() + (3 + k) * 512;
      CHECK(greedy[k] == static_cast<int>(std::max_element(row, row + 512) - row));
    }
  }
}

TEST_CASE("synthetic vocabularies tokenize the same in troupe and llama.cpp") {
  if (!std::filesystem::exists(oracle_path())) {
    MESSAGE("SKIPPED: llama_oracle not built (.deps/llama absent)");
    return;
  }
  troupe::test::temp_dir dir;
  const std::vector<std::string> texts{"Hello world", "the cat and the dog",
                                       "Once upon a time, there was a little agent.",
                                       "  two  spaces\nnew line\ttab", "caf\xc3\xa9 \xe2\x9c\x93 42!"};
  for (const char* tok : {"llama", "gpt2"}) {
    for (std::uint32_t n_vocab : {512u, 4000u}) {
      CAPTURE(std::string{tok});
      CAPTURE(n_vocab);
      model_spec s;
      s.tokenizer = tok;
      s.n_vocab = n_vocab;
      s.n_embd = 32;
      s.n_head = 2;
      s.n_head_kv = 1;
      s.n_ff = 32;
      s.n_layer = 1;
      const auto model = dir / "v.gguf";
      REQUIRE(write_random_model(s, model).has_value());
      auto f = gguf_file::open(model);
      REQUIRE(f.has_value());
      auto t = tokenizer::from_gguf(*f);
      REQUIRE_MESSAGE(t.has_value(), t.error().message);
      for (const auto& text : texts) {
        CAPTURE(text);
        auto r = run_command(oracle_path().string() + " " + model.string() + " --text " + sh_quote(text));
        REQUIRE_MESSAGE(r.status == 0, r.output);
        const auto expected = ids_after(r.output, "text_tokens");
        const auto got = t->encode(text, true, false);
        CHECK(std::vector<int>(got.begin(), got.end()) == expected);
        CHECK(t->decode(got) == text);
      }
    }
  }
}
