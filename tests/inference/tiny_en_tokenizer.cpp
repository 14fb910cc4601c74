// The committed model models/troupe-tiny-en.gguf: troupe's tokenizer, built from the file's
// tokenizer.ggml.* metadata, must give exactly the ids the training pipeline (training/bpe.py)
// gave held-out sentences, chat snippets and a few odd strings. The expected ids are in
// tests/data/model/tiny_en_tokens.txt (written by training/make_vectors.py): one case per
// line, escaped text, a TAB, the ids.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "support/temp_dir.hpp"
#include <troupe/inference/chat_template.hpp>
#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

using namespace troupe::inference;
namespace fs = std::filesystem;

namespace {

fs::path model_path() { return troupe::test::source_dir() / "models" / "troupe-tiny-en.gguf"; }

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct test_case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<test_case> read_cases() {
  std::ifstream in(troupe::test::source_dir() / "tests" / "data" / "model" / "tiny_en_tokens.txt");
  std::vector<test_case> cases;
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.rfind('\t');
    if (tab == std::string::npos) continue;
    test_case c{unescape(line.substr(0, tab)), {}};
    std::istringstream ids(line.substr(tab + 1));
    for (int32_t id = 0; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

} // namespace

TEST_CASE("troupe-tiny-en: troupe tokenizes held-out text exactly as the training pipeline") {
  auto file = gguf_file::open(model_path());
  REQUIRE(file.has_value());
  auto tok = tokenizer::from_gguf(*file);
  REQUIRE(tok.has_value());
  CHECK(tok->kind() == vocab_kind::bpe);
  CHECK(tok->n_vocab() == 4096);
  CHECK_FALSE(tok->add_bos());
  CHECK(tok->eos() == tok->find("<|im_end|>"));
  CHECK(tok->is_eog(tok->find("<|im_end|>")));
  CHECK(tok->type_of(tok->find("<|im_start|>")) == token_type::control);

  const auto cases = read_cases();
  REQUIRE(cases.size() > 100);
  std::size_t exact = 0;
  std::size_t n_ids = 0;
  for (const auto& c : cases) {
    const auto got = tok->encode(c.text, /*add_special=*/false, /*parse_special=*/true);
    n_ids += c.ids.size();
    if (got == c.ids) {
      ++exact;
    } else {
      MESSAGE(fmt::format("mismatch on '{}':\n  troupe   {}\n  training {}", c.text,
                          fmt::join(got, " "), fmt::join(c.ids, " ")));
    }
    CHECK(tok->decode(got, /*special=*/true) == c.text);
  }
  MESSAGE(fmt::format("{} of {} cases ({} ids) tokenized exactly alike", exact, cases.size(), n_ids));
  CHECK(exact == cases.size());
}

TEST_CASE("troupe-tiny-en: the chat template is detected as ChatML") {
  auto file = gguf_file::open(model_path());
  REQUIRE(file.has_value());
  auto text = file->get_string("tokenizer.chat_template");
  REQUIRE(text.has_value());
  CHECK(detect_chat_format(*text) == chat_format::chatml);
}
