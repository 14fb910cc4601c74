// Tokenization against llama.cpp's own test vectors (models/ggml-vocab-NAME.gguf with .inp and
// .out files, as used by its tests/test-tokenizer-0.cpp): inputs are separated by a
// "\n__ggml_vocab_test__\n" line, and line i of .out holds the expected ids of input i,
// tokenized without BOS/EOS and without parsing special tokens. Skips, visibly, without
// .deps/llama (installed by scripts/setup.sh).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "support/temp_dir.hpp"
#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

using namespace troupe::inference;
namespace fs = std::filesystem;

namespace {

fs::path models_dir() { return troupe::test::source_dir() / ".deps" / "llama" / "src" / "models"; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// True when `s` is well-formed UTF-8 made of whole characters (no cut-off sequence).
bool whole_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

struct vector_case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<vector_case> read_cases(const fs::path& inp, const fs::path& out) {
  const std::string raw = slurp(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (std::size_t pos = 0; pos < raw.size();) {
    const std::size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(raw.substr(pos));
      break;
    }
    texts.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<vector_case> cases;
  std::ifstream lines(out);
  std::size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    vector_case c;
    c.text = i < texts.size() ? texts[i] : std::string{};
    std::istringstream ids(line);
    for (int32_t id = 0; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  REQUIRE_MESSAGE(cases.size() == texts.size(), "input and output files disagree on the count");
  return cases;
}

/// Runs every case of `inp`/`out` through the tokenizer of `name`; reports each mismatch.
void check_cases(const std::string& name, const fs::path& inp, const fs::path& out,
                 bool add_special, bool parse_special, bool check_decode) {
  const fs::path gguf = models_dir() / fmt::format("ggml-vocab-{}.gguf", name);
  if (!fs::exists(gguf)) {
    MESSAGE("SKIPPED: ", gguf.string(), " not found (.deps/llama absent; run scripts/setup.sh)");
    return;
  }
  auto file = gguf_file::open(gguf);
  REQUIRE_MESSAGE(file.has_value(), (file.has_value() ? std::string() : file.error().message));
  auto tok = tokenizer::from_gguf(*file);
  REQUIRE_MESSAGE(tok.has_value(), (tok.has_value() ? std::string() : tok.error().message));

  const auto cases = read_cases(inp, out);
  REQUIRE(!cases.empty());
  std::size_t failed = 0;
  for (const auto& c : cases) {
    const auto got = tok->encode(c.text, add_special, parse_special);
    if (got != c.ids) {
      ++failed;
      MESSAGE(fmt::format("{}: '{}'\n  expected {}\n  got      {}", name, c.text,
                          fmt::join(c.ids, " "), fmt::join(got, " ")));
    }
    // Decoding the expected ids gives the text back for these inputs (no invalid UTF-8, and
    // no space cleanup in troupe's decode).
    if (check_decode && !c.text.empty()) {
      CHECK_MESSAGE(tok->decode(c.ids) == c.text, name, ": decode of '", c.text, "'");
      // Streaming the pieces one token at a time yields whole characters only, and the text.
      utf8_stream stream;
      std::string streamed;
      for (const int32_t id : c.ids) {
        const std::string chunk = stream.push(tok->token_to_piece(id));
        CHECK_MESSAGE(whole_utf8(chunk), name, ": streamed chunk of '", c.text, "'");
        streamed += chunk;
      }
      streamed += stream.flush();
      // SPM pieces carry the prefixed space that decode() removes.
      const bool spm = tok->kind() == vocab_kind::spm;
      CHECK_MESSAGE(streamed == (spm ? " " + c.text : c.text), name, ": streamed '", c.text, "'");
    }
  }
  MESSAGE(fmt::format("{} ({}): {}/{} cases match llama.cpp", name, inp.filename().string(),
                      cases.size() - failed, cases.size()));
  CHECK(failed == 0);
}

/// llama.cpp's own vectors: no BOS, no special-token parsing.
void check_vocab(const std::string& name) {
  const fs::path base = models_dir() / fmt::format("ggml-vocab-{}.gguf", name);
  check_cases(name, fs::path(base.string() + ".inp"), fs::path(base.string() + ".out"), false,
              false, true);
}

/// troupe's harder corpus (tests/data/tokenizer), ids produced by llama.cpp itself through
/// inference/tools/llama_tokenize_oracle.cpp: once plain, once with BOS and special tokens.
void check_corpus(const std::string& name) {
  const fs::path dir = troupe::test::source_dir() / "tests" / "data" / "tokenizer";
  check_cases(name, dir / "corpus.inp", dir / (name + ".plain.out"), false, false, false);
  check_cases(name, dir / "corpus.inp", dir / (name + ".special.out"), true, true, false);
}

} // namespace

TEST_CASE("llama-spm (SentencePiece) matches llama.cpp's vectors") { check_vocab("llama-spm"); }
TEST_CASE("llama-bpe (llama3 pre-tokenizer) matches llama.cpp's vectors") {
  check_vocab("llama-bpe");
}
TEST_CASE("qwen2 matches llama.cpp's vectors") { check_vocab("qwen2"); }
TEST_CASE("gpt-2 matches llama.cpp's vectors") { check_vocab("gpt-2"); }

// Vocabularies whose pre-tokenizer rules troupe shares: starcoder and refact use the smollm
// rules (\p{N} split first), mpt the gpt2 rules.
TEST_CASE("starcoder (smollm rules) matches llama.cpp's vectors") { check_vocab("starcoder"); }
TEST_CASE("refact (smollm rules) matches llama.cpp's vectors") { check_vocab("refact"); }
TEST_CASE("command-r (smollm rules) matches llama.cpp's vectors") { check_vocab("command-r"); }
TEST_CASE("mpt (gpt2 rules) matches llama.cpp's vectors") { check_vocab("mpt"); }

TEST_CASE("llama-spm matches llama.cpp on troupe's corpus") { check_corpus("llama-spm"); }
TEST_CASE("llama-bpe matches llama.cpp on troupe's corpus") { check_corpus("llama-bpe"); }
TEST_CASE("qwen2 matches llama.cpp on troupe's corpus") { check_corpus("qwen2"); }
TEST_CASE("gpt-2 matches llama.cpp on troupe's corpus") { check_corpus("gpt-2"); }
