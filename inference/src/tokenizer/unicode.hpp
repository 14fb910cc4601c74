// Private Unicode helpers for the tokenizers: UTF-8 coding and the few character classes the
// pre-tokenizers need (letters, numbers, punctuation, marks, white space).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::inference::unicode {

/// An inclusive range of code points.
struct cpt_range {
  uint32_t first;
  uint32_t last;
};

// Generated tables (unicode_tables.cpp), sorted and disjoint.
extern const cpt_range k_letter_ranges[];
extern const std::size_t k_letter_count;
extern const cpt_range k_number_ranges[];
extern const std::size_t k_number_count;
extern const cpt_range k_punct_ranges[];
extern const std::size_t k_punct_count;
extern const cpt_range k_mark_ranges[];
extern const std::size_t k_mark_count;

/// The code point substituted for bytes that are not valid UTF-8.
inline constexpr uint32_t replacement_cpt = 0xFFFD;

/// Character classes of one code point. `present` is set by classify (every code point, even
/// an unassigned one, is "present"); a default-constructed cpt_class stands for "no code
/// point here" (past the end of a word being matched).
struct cpt_class {
  bool letter = false;
  bool number = false;
  bool punct = false;
  bool mark = false;
  bool whitespace = false;
  bool present = false;
};

/// Classes of `cpt` (binary search in the tables; ASCII answered directly).
cpt_class classify(uint32_t cpt);

/// Length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
std::size_t utf8_len(uint8_t lead);

/// Decodes UTF-8; each byte that does not start a well-formed sequence becomes U+FFFD.
std::vector<uint32_t> decode_utf8(std::string_view text);

/// Appends the UTF-8 encoding of `cpt`.
void append_utf8(std::string& out, uint32_t cpt);

/// GPT-2's reversible byte -> code point map (printable Latin-1 bytes map to themselves,
/// the rest to U+0100 onwards, in byte order).
uint32_t byte_to_cpt(uint8_t byte);

/// The inverse of byte_to_cpt; -1 for code points no byte maps to.
int cpt_to_byte(uint32_t cpt);

} // namespace troupe::inference::unicode
