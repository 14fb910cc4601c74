// Tokenizers built by hand from vocab_data (no model files needed): merge order, byte
// fallback, special tokens, BOS/EOS, decoding, end-of-generation ids and UTF-8 streaming.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include <troupe/inference/vocab.hpp>

using namespace troupe::inference;

namespace {

using ids = std::vector<int32_t>;

/// An SPM vocabulary: <unk> <s> </s>, the 256 byte tokens (ids 3..258), then `pieces` with
/// their scores.
vocab_data spm_vocab(const std::vector<std::pair<std::string, float>>& pieces) {
  vocab_data d;
  d.kind = vocab_kind::spm;
  d.tokens = {"<unk>", "<s>", "</s>"};
  d.types = {token_type::unknown, token_type::control, token_type::control};
  for (int b = 0; b < 256; ++b) {
    d.tokens.push_back(fmt::format("<0x{:02X}>", b));
    d.types.push_back(token_type::byte);
  }
  for (const auto& [p, s] : pieces) {
    d.tokens.push_back(p);
    d.types.push_back(token_type::normal);
  }
  d.scores.assign(d.tokens.size(), 0.0f);
  for (std::size_t i = 0; i < pieces.size(); ++i) d.scores[259 + i] = pieces[i].second;
  d.unk = 0;
  d.bos = 1;
  d.eos = 2;
  return d;
}

constexpr int32_t k_first = 259;  // id of the first piece in spm_vocab

/// A byte-level BPE vocabulary over the given pieces (already in byte-encoded form).
vocab_data bpe_vocab(std::vector<std::string> pieces, std::vector<std::string> merges,
                     std::string pre = "gpt-2") {
  vocab_data d;
  d.kind = vocab_kind::bpe;
  d.pre = std::move(pre);
  d.tokens = std::move(pieces);
  d.merges = std::move(merges);
  return d;
}

} // namespace

TEST_CASE("SPM merges the highest-scoring pair first") {
  // "ab" beats "bc": abc -> ab c; with the scores swapped: a bc.
  auto d = spm_vocab({{"a", -1}, {"b", -1}, {"c", -1}, {"ab", -2}, {"bc", -3}});
  d.add_space_prefix = false;
  const tokenizer ab_first(d);
  CHECK(ab_first.encode("abc", false, false) == ids{k_first + 3, k_first + 2});
  d.scores[k_first + 3] = -4;
  const tokenizer bc_first(d);
  CHECK(bc_first.encode("abc", false, false) == ids{k_first, k_first + 4});
}

TEST_CASE("SPM prefixes a space, writes spaces as U+2581, and falls back to bytes") {
  const tokenizer tok(spm_vocab(
      {{"\xE2\x96\x81", -1}, {"h", -1}, {"i", -1}, {"\xE2\x96\x81h", -2}, {"\xE2\x96\x81hi", -3}}));
  // " hi hi" -> ▁hi ▁hi
  CHECK(tok.encode("hi hi", false, false) == ids{k_first + 4, k_first + 4});
  // é is not in the vocabulary: bytes C3 A9 -> <0xC3> <0xA9> (byte ids are 3 + byte).
  CHECK(tok.encode("hi\xC3\xA9", false, false) == ids{k_first + 4, 3 + 0xC3, 3 + 0xA9});
  CHECK(tok.encode("hi", true, false) == ids{1, k_first + 4});  // BOS by default
  CHECK(tok.encode("", false, false).empty());
  CHECK(tok.encode("", true, false) == ids{1});
  // Decoding undoes all of it, including the byte fallback and the prefixed space.
  const ids e = tok.encode("hi hi\xC3\xA9", true, false);
  CHECK(tok.decode(e) == "hi hi\xC3\xA9");
  CHECK(tok.token_to_piece(k_first + 4) == " hi");
  CHECK(tok.token_to_piece(3 + 0x41) == "A");
  CHECK(tok.token_to_piece(1) == "<s>");
  CHECK(tok.decode(ids{1, k_first + 4}, true) == "<s> hi");
}

TEST_CASE("control tokens are recognised only with parse_special") {
  const tokenizer tok(spm_vocab(
      {{"\xE2\x96\x81", -1}, {"h", -1}, {"i", -1}, {"hi", -2}, {"\xE2\x96\x81hi", -3}}));
  // parse_special: "</s>" is one token, and the text after it gets the space prefix again.
  CHECK(tok.encode("hi</s>hi", false, true) == ids{k_first + 4, 2, k_first + 4});
  // Without: the characters of "</s>" go through the merge (here: byte fallback).
  const ids plain = tok.encode("hi</s>", false, false);
  CHECK(plain == ids{k_first + 4, 3 + '<', 3 + '/', 3 + 's', 3 + '>'});
}

TEST_CASE("user-defined tokens are split out even without parse_special") {
  auto d = spm_vocab({{"\xE2\x96\x81", -1}, {"x", -1}, {"<tool>", 0}});
  d.types.back() = token_type::user_defined;
  d.add_space_prefix = false;
  const tokenizer tok(d);
  CHECK(tok.encode("x<tool>x", false, false) == ids{k_first + 1, k_first + 2, k_first + 1});
}

TEST_CASE("BPE applies merges by rank, lowest first") {
  auto d = bpe_vocab({"a", "b", "c", "ab", "bc"}, {"a b", "b c"});
  const tokenizer ab_first(d);
  CHECK(ab_first.encode("abc", false, false) == ids{3, 2});
  d.merges = {"b c", "a b"};
  const tokenizer bc_first(d);
  CHECK(bc_first.encode("abc", false, false) == ids{0, 4});
}

TEST_CASE("BPE works on byte-level pieces within pre-tokenized words") {
  // U+0120 "Ġ" is the byte-level form of a space.
  const tokenizer tok(bpe_vocab({"h", "i", "\xC4\xA0", "hi", "\xC4\xA0h", "\xC4\xA0hi", "!"},
                                {"\xC4\xA0 h", "\xC4\xA0h i", "h i"}));
  CHECK(tok.encode("hi hi!", false, false) == ids{3, 5, 6});
  // The space before "hi" joins the second word; the merge "hi" cannot cross a word boundary.
  CHECK(tok.encode("h i", false, false) == ids{0, 2, 1});
  CHECK(tok.decode(ids{3, 5, 6}) == "hi hi!");
  CHECK(tok.token_to_piece(5) == " hi");
  CHECK(tok.find("\xC4\xA0hi") == 5);
  CHECK(tok.find("nope") == -1);
}

TEST_CASE("BOS/EOS follow the model's config") {
  auto d = bpe_vocab({"a", "<|begin_of_text|>", "<|end_of_text|>"}, {}, "llama-bpe");
  d.types = {token_type::normal, token_type::control, token_type::control};
  d.bos = 1;
  d.eos = 2;
  const tokenizer llama3(d);  // llama3 rules add BOS unless the file says otherwise
  CHECK(llama3.encode("a", true, false) == ids{1, 0});
  CHECK(llama3.encode("a", false, false) == ids{0});
  d.add_bos = false;
  d.add_eos = true;
  const tokenizer eos_only(d);
  CHECK(eos_only.encode("a", true, false) == ids{0, 2});
}

TEST_CASE("end-of-generation ids include eos, eot and turn-end tokens") {
  auto d = bpe_vocab({"a", "<|endoftext|>", "<|im_start|>", "<|im_end|>"}, {}, "qwen2");
  d.types = {token_type::normal, token_type::control, token_type::control, token_type::control};
  d.eos = 1;
  const tokenizer tok(d);
  CHECK(tok.eos() == 1);
  CHECK(tok.is_eog(1));
  CHECK(tok.is_eog(3));
  CHECK_FALSE(tok.is_eog(2));
  CHECK_FALSE(tok.is_eog(0));
  CHECK(tok.eot() == 3);  // <|im_end|> ends a chatml turn
  CHECK(tok.bos() == -1);
  CHECK(tok.n_vocab() == 4);
  CHECK(tok.encode("<|im_start|>a<|im_end|>", false, true) == ids{2, 0, 3});
}

TEST_CASE("from_vocab rejects what the constructor would guess about") {
  CHECK_FALSE(tokenizer::from_vocab(vocab_data{}).has_value());
  auto d = bpe_vocab({"a"}, {}, "no-such-pre");
  const auto r = tokenizer::from_vocab(d);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::unsupported);
  CHECK(r.error().message.find("no-such-pre") != std::string::npos);
  d.pre = "qwen2";
  d.scores = {1.0f, 2.0f};
  CHECK_FALSE(tokenizer::from_vocab(d).has_value());
}

TEST_CASE("utf8_stream emits whole characters only") {
  utf8_stream s;
  const std::string euro = "\xE2\x82\xAC";  // €
  CHECK(s.push("a\xE2") == "a");
  CHECK(s.push("\x82") == "");
  CHECK(s.push("\xAC" "b") == euro + "b");
  CHECK(s.push("\xF0\x9F") == "");
  CHECK(s.push("\xA6\x99") == "\xF0\x9F\xA6\x99");  // 🦙
  CHECK(s.push("\xC3") == "");
  CHECK(s.flush() == "\xEF\xBF\xBD");  // an unfinished sequence becomes U+FFFD
  CHECK(s.flush().empty());
  CHECK(s.push("\xFF" "x") == "\xEF\xBF\xBD" "x");  // invalid bytes never pass through
}
