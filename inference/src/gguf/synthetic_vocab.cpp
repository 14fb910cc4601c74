#include "gguf/synthetic_vocab.hpp"

#include <array>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace troupe::inference {

namespace {

constexpr std::string_view space_piece = "\xe2\x96\x81";  // U+2581 "▁", SentencePiece's space

// Frequent English words (each becomes "▁word") and word pieces (used without "▁").
constexpr std::array<std::string_view, 120> common_words{
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "I", "his", "they", "be", "at", "one", "have", "this", "from", "or",
    "had", "by", "not", "word", "but", "what", "some", "we", "can", "out", "other", "were",
    "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
    "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write",
    "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has",
    "look", "more", "day", "could", "go", "come", "did", "number", "sound", "no", "most",
    "people", "my", "over", "know", "water", "than", "call", "first", "who", "may", "down",
    "side", "been", "now", "find", "The", "A", "In", "It", "He", "She", "They", "We", "Hello",
    "world", "agent", "model", "token", "story", "once", "upon", "little", "cat", "dog", "sun"};
constexpr std::array<std::string_view, 40> common_pieces{
    "ing", "ed", "er", "es", "ly", "tion", "th", "he", "in", "an", "re", "on", "at", "en",
    "nd", "ti", "es", "or", "te", "of", "ed", "is", "it", "al", "ar", "st", "to", "nt", "ng",
    "se", "ha", "as", "ou", "io", "le", "ve", "co", "me", "de", "hi"};

/// Adds normal pieces until the vocabulary holds n_vocab tokens; skips duplicates.
struct piece_adder {
  synthetic_vocab& v;
  std::uint32_t n_vocab;
  std::set<std::string> seen;

  bool full() const { return v.tokens.size() >= n_vocab; }
  void add(std::string piece) {
    if (full() || !seen.insert(piece).second) return;
    const auto rank = static_cast<float>(v.tokens.size());
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(-rank);
    v.types.push_back(static_cast<std::int32_t>(token_kind::normal));
  }
};

} // namespace

synthetic_vocab make_spm_vocab(std::uint32_t n_vocab) {
  synthetic_vocab v;
  v.tokens.reserve(n_vocab);
  auto special = [&v](std::string t, token_kind k) {
    v.tokens.push_back(std::move(t));
    v.scores.push_back(0.0f);
    v.types.push_back(static_cast<std::int32_t>(k));
  };
  special("<unk>", token_kind::unknown);
  special("<s>", token_kind::control);
  special("</s>", token_kind::control);
  for (int b = 0; b < 256; ++b) special(fmt::format("<0x{:02X}>", b), token_kind::byte);

  piece_adder p{v, n_vocab, {}};
  p.add(std::string{space_piece});
  for (char c = '!'; c <= '~'; ++c) p.add(std::string(1, c));
  for (auto w : common_words) p.add(std::string{space_piece} + std::string{w});
  for (auto w : common_pieces) p.add(std::string{w});
  // Letter pairs, then triples, each as "▁xy" and "xy", until the vocabulary is full.
  const std::string_view letters = "etaoinshrdlcumwfgypbvkjxqz";
  for (char a : letters)
    for (char b : letters) {
      const std::string pair{a, b};
      p.add(std::string{space_piece} + pair);
      p.add(pair);
    }
  for (char a : letters)
    for (char b : letters)
      for (char c : letters) {
        if (p.full()) return v;
        const std::string tri{a, b, c};
        p.add(std::string{space_piece} + tri);
        p.add(tri);
      }
  // Four letters, then numbered pieces: enough for any vocabulary size.
  for (char a : letters)
    for (char b : letters)
      for (char c : letters)
        for (char d : letters) {
          if (p.full()) return v;
          p.add(std::string{space_piece} + std::string{a, b, c, d});
        }
  for (std::uint64_t i = 0; !p.full(); ++i) p.add(fmt::format("{}{}", space_piece, i));
  return v;
}

} // namespace troupe::inference
