// A synthetic GPT-2-style byte-level BPE vocabulary with a consistent merge list.
#include <array>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "gguf/synthetic_vocab.hpp"

namespace troupe::inference {

namespace {

/// UTF-8 of one code point (below 0x800 here: byte-level characters are at most U+0143).
std::string utf8(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

/// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others
/// (controls, space, ...) are shifted to U+0100 and up in byte order (space -> "Ġ", \n -> "Ċ").
std::array<std::string, 256> byte_chars() {
  std::array<std::string, 256> out;
  std::uint32_t shifted = 0;
  for (std::uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    out[b] = utf8(printable ? b : 256 + shifted++);
  }
  return out;
}

constexpr std::array<std::string_view, 60> words{
    "the", "of", "and", "to", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are",
    "with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by",
    "not", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when",
    "up", "The", "Hello", "world", "agent", "model", "token", "story", "once", "upon", "time",
    "little", "cat", "dog", "sun", "ing", "ed", "er", "tion", "ly", "es"};

/// Adds tokens (and the merges that build them) until the vocabulary is full.
struct bpe_builder {
  synthetic_vocab& v;
  std::size_t limit;  // normal tokens wanted
  std::set<std::string> have;

  bool full() const { return v.tokens.size() >= limit; }

  /// Adds every prefix of `chars` (a sequence of byte-level characters) as a token, each
  /// built by merging the previous prefix with the next character.
  void add_word(const std::vector<std::string>& chars) {
    std::string prefix = chars.empty() ? std::string{} : chars[0];
    for (std::size_t i = 1; i < chars.size() && !full(); ++i) {
      std::string next = prefix + chars[i];
      if (have.insert(next).second) {
        v.merges.push_back(prefix + " " + chars[i]);
        v.tokens.push_back(next);
        v.scores.push_back(0.0f);
        v.types.push_back(static_cast<std::int32_t>(token_kind::normal));
      }
      prefix = std::move(next);
    }
  }
};

} // namespace

synthetic_vocab make_bpe_vocab(std::uint32_t n_vocab) {
  synthetic_vocab v;
  const auto chars = byte_chars();
  for (const auto& c : chars) {
    v.tokens.push_back(c);
    v.scores.push_back(0.0f);
    v.types.push_back(static_cast<std::int32_t>(token_kind::normal));
  }
  bpe_builder b{v, n_vocab - 1, {chars.begin(), chars.end()}};
  auto spell = [&chars](std::string_view text) {
    std::vector<std::string> out;
    for (char c : text) out.push_back(chars[static_cast<unsigned char>(c)]);
    return out;
  };
  for (auto w : words) {
    b.add_word(spell(fmt::format(" {}", w)));
    b.add_word(spell(w));
  }
  const std::string_view letters = "etaoinshrdlcumwfgypbvkjxqz";
  for (char x : letters)
    for (char y : letters) {
      b.add_word(spell(std::string{' ', x, y}));
      b.add_word(spell(std::string{x, y}));
    }
  for (char x : letters)
    for (char y : letters)
      for (char z : letters) {
        if (b.full()) break;
        b.add_word(spell(std::string{' ', x, y, z}));
        b.add_word(spell(std::string{x, y, z}));
      }
  for (std::uint64_t i = 0; !b.full(); ++i) b.add_word(spell(fmt::format(" {}", i)));
  v.tokens.push_back("<|endoftext|>");
  v.scores.push_back(0.0f);
  v.types.push_back(static_cast<std::int32_t>(token_kind::control));
  return v;
}

} // namespace troupe::inference
