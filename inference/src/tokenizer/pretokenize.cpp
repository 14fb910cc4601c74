// Word splitting for byte-level BPE. Each style is a small hand-written matcher that tries the
// alternatives of its model's regular expression in order at the current position and returns
// the length of the first that matches. Where llama.cpp's own hand-written splitters deviate
// from the regular expressions (a lone code point nothing matches is a word of its own; a
// space before the end of a word is a word by itself), we follow llama.cpp, since matching
// its token ids is the correctness bar.
#include "tokenizer/pretokenize.hpp"

#include <array>
#include <cstdint>

#include "tokenizer/unicode.hpp"

namespace troupe::inference::detail {
namespace {

using unicode::cpt_class;

/// A view of one segment [begin, end) of the code points; positions outside read as "nothing".
struct segment {
  const std::vector<uint32_t>& cpts;
  std::size_t begin;
  std::size_t end;

  [[nodiscard]] bool in(std::size_t i) const { return i >= begin && i < end; }
  [[nodiscard]] uint32_t at(std::size_t i) const { return in(i) ? cpts[i] : 0xFFFFFFFFu; }
  [[nodiscard]] cpt_class cls(std::size_t i) const {
    return in(i) ? unicode::classify(cpts[i]) : cpt_class{};
  }
};

bool is_cr_lf(uint32_t c) { return c == '\r' || c == '\n'; }
bool is_other(const cpt_class& c) { return !(c.whitespace || c.letter || c.number); }
bool nonzero(const cpt_class& c) { return c.present; }

uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/// 's|'t|'re|'ve|'m|'ll|'d, optionally ignoring ASCII case; the length matched or 0.
std::size_t match_contraction(const segment& s, std::size_t p, bool any_case) {
  if (s.at(p) != '\'' || !s.in(p + 1)) {
    return 0;
  }
  const auto low = [&](std::size_t i) { return any_case ? ascii_lower(s.at(i)) : s.at(i); };
  const uint32_t a = low(p + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') {
    return 2;
  }
  if (s.in(p + 2)) {
    const uint32_t b = low(p + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
      return 3;
    }
  }
  return 0;
}

/// The white-space alternatives shared by all styles: \s+(?!\S) then \s+ (and, with
/// `newline_runs`, \s*[\r\n]+ first). Returns at least 1 (a lone unmatched code point).
std::size_t match_space(const segment& s, std::size_t p, bool newline_runs) {
  std::size_t n = 0;
  std::size_t after_newline = 0;
  while (s.cls(p + n).whitespace) {
    if (is_cr_lf(s.at(p + n))) {
      after_newline = n + 1;
    }
    ++n;
  }
  if (newline_runs && after_newline > 0) {
    return after_newline;
  }
  if (n > 1 && s.in(p + n)) {
    return n - 1;  // leave the last space to prefix the next word
  }
  return n > 0 ? n : 1;
}

std::size_t match_gpt2(const segment& s, std::size_t p) {
  if (const std::size_t n = match_contraction(s, p, false)) {
    return n;
  }
  const bool space = s.at(p) == ' ';
  const std::size_t q0 = p + (space ? 1 : 0);
  const cpt_class first = s.cls(q0);
  std::size_t q = q0;
  if (first.letter) {
    while (s.cls(q).letter) ++q;
    return q - p;
  }
  if (first.number) {
    while (s.cls(q).number) ++q;
    return q - p;
  }
  if (is_other(first) && nonzero(first)) {
    while (is_other(s.cls(q)) && nonzero(s.cls(q))) ++q;
    return q - p;
  }
  return match_space(s, p, false);
}

std::size_t match_llama3(const segment& s, std::size_t p, std::size_t max_digits) {
  if (const std::size_t n = match_contraction(s, p, true)) {
    return n;
  }
  const uint32_t c = s.at(p);
  const cpt_class cls = s.cls(p);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!is_cr_lf(c) && !cls.number && (cls.letter || s.cls(p + 1).letter)) {
    std::size_t q = p + 1;
    while (s.cls(q).letter) ++q;
    return q - p;
  }
  // \p{N}{1,max_digits}
  if (cls.number) {
    std::size_t q = p;
    while (q - p < max_digits && s.cls(q).number) ++q;
    return q - p;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const bool space = c == ' ';
  if (is_other(space ? s.cls(p + 1) : cls) && nonzero(cls)) {
    std::size_t q = p + (space ? 1 : 0);
    while (is_other(s.cls(q)) && nonzero(s.cls(q))) ++q;
    while (is_cr_lf(s.at(q))) ++q;
    return q - p;
  }
  return match_space(s, p, true);
}

bool is_default_punct(uint32_t c) {
  if (c < 0x80) {
    return unicode::classify(c).punct || c == '$' || c == '+' || c == '<' || c == '=' ||
           c == '>' || c == '^' || c == '~' || c == '|';
  }
  const cpt_class cls = unicode::classify(c);
  return cls.punct && !cls.whitespace;
}

/// Segments as (begin, end) code point positions.
using spans = std::vector<std::array<std::size_t, 2>>;

/// A custom splitter stage: every position starts a word of the matcher's length.
template <class Match>
spans split_words(const std::vector<uint32_t>& cpts, const spans& in, Match match) {
  spans out;
  for (const auto& [b, e] : in) {
    const segment s{cpts, b, e};
    for (std::size_t p = b; p < e;) {
      const std::size_t n = match(s, p);
      out.push_back({p, p + n});
      p += n;
    }
  }
  return out;
}

/// A regex stage: matches become words, and the text between matches becomes one word each.
template <class Match>
spans split_matches(const std::vector<uint32_t>& cpts, const spans& in, Match match) {
  spans out;
  for (const auto& [b, e] : in) {
    const segment s{cpts, b, e};
    std::size_t gap = b;
    for (std::size_t p = b; p < e;) {
      const std::size_t n = match(s, p);
      if (n == 0) {
        ++p;
        continue;
      }
      if (p > gap) out.push_back({gap, p});
      out.push_back({p, p + n});
      p += n;
      gap = p;
    }
    if (e > gap) out.push_back({gap, e});
  }
  return out;
}

std::size_t match_run(const segment& s, std::size_t p, bool (*pred)(uint32_t), std::size_t max) {
  std::size_t q = p;
  while (q - p < max && s.in(q) && pred(s.at(q))) ++q;
  return q - p;
}

bool is_number_cpt(uint32_t c) { return unicode::classify(c).number; }
bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }

} // namespace

std::optional<pre_style> pre_style_from_name(std::string_view name) {
  for (std::string_view n : {"llama3", "llama-v3", "llama-bpe", "dbrx", "smaug-bpe", "falcon3",
                             "pixtral"}) {
    if (name == n) return pre_style::llama3;
  }
  for (std::string_view n : {"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"}) {
    if (name == n) return pre_style::qwen2;
  }
  for (std::string_view n : {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "roberta-bpe"}) {
    if (name == n) return pre_style::gpt2;
  }
  for (std::string_view n : {"smollm", "starcoder", "refact", "command-r"}) {
    if (name == n) return pre_style::smollm;
  }
  if (name.empty() || name == "default") {
    return pre_style::fallback;
  }
  return std::nullopt;
}

std::vector<std::string> pre_split(std::string_view text, pre_style style) {
  const std::vector<uint32_t> cpts = unicode::decode_utf8(text);
  spans words{{0, cpts.size()}};
  const auto gpt2 = [](const segment& s, std::size_t p) { return match_gpt2(s, p); };
  switch (style) {
    case pre_style::gpt2:
      words = split_words(cpts, words, gpt2);
      break;
    case pre_style::llama3:
      words = split_words(cpts, words,
                          [](const segment& s, std::size_t p) { return match_llama3(s, p, 3); });
      break;
    case pre_style::qwen2:
      words = split_words(cpts, words,
                          [](const segment& s, std::size_t p) { return match_llama3(s, p, 1); });
      break;
    case pre_style::smollm:
      words = split_matches(cpts, words, [](const segment& s, std::size_t p) {
        return match_run(s, p, is_number_cpt, 1);
      });
      words = split_words(cpts, words, gpt2);
      break;
    case pre_style::fallback:
      words = split_matches(cpts, words, [](const segment& s, std::size_t p) {
        return match_run(s, p, is_default_punct, SIZE_MAX);
      });
      words = split_words(cpts, words, gpt2);
      words = split_matches(cpts, words, [](const segment& s, std::size_t p) {
        return match_run(s, p, is_number_cpt, SIZE_MAX);
      });
      words = split_matches(cpts, words, [](const segment& s, std::size_t p) {
        return match_run(s, p, is_ascii_digit, 3) == 3 ? std::size_t{3} : std::size_t{0};
      });
      break;
  }
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const auto& [b, e] : words) {
    std::string w;
    for (std::size_t i = b; i < e; ++i) unicode::append_utf8(w, cpts[i]);
    out.push_back(std::move(w));
  }
  return out;
}

} // namespace troupe::inference::detail
