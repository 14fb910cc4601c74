// Pre-tokenizers of byte-level BPE vocabularies: split text into words before merging. Each
// style reproduces the regular expression its model's tokenizer.json names (as llama.cpp
// interprets it), hand-written over Unicode character classes since std::regex has no \p{L}.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::inference::detail {

/// Which word-splitting rules a BPE vocabulary uses.
enum class pre_style {
  gpt2,    ///< 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  llama3,  ///< contractions (any case)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  qwen2,   ///< as llama3 but \p{N} (single digits)
  smollm,  ///< \p{N} split first, then gpt2
  fallback,  ///< llama.cpp's "default": [\p{P}$+<=>^~|]+, then gpt2, then \p{N}+, then [0-9]{3}
};

/// The style for a `tokenizer.ggml.pre` name; nullopt for names troupe does not implement.
std::optional<pre_style> pre_style_from_name(std::string_view name);

/// Splits UTF-8 text into words (concatenating them gives the text back, except that invalid
/// UTF-8 bytes become U+FFFD, as in llama.cpp).
std::vector<std::string> pre_split(std::string_view text, pre_style style);

} // namespace troupe::inference::detail
