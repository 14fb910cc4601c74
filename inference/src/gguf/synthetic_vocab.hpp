// A synthetic SentencePiece-style vocabulary for generated models (private to the generator).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace troupe::inference {

/// Token types as llama.cpp numbers them (tokenizer.ggml.token_type).
enum class token_kind : std::int32_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

/// Parallel arrays: tokens[i], scores[i], types[i]; merges ("a b") for BPE vocabularies.
struct synthetic_vocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;
};

/// `<unk>`=0 (unknown), `<s>`=1, `</s>`=2 (control), `<0x00>`..`<0xFF>` (byte), then the
/// space piece "▁", printable ASCII characters, "▁"-prefixed common English words, common
/// word pieces, and generated letter pairs/triples (with and without "▁") until `n_vocab`
/// tokens, all distinct, normal pieces with strictly descending scores. n_vocab >= 259.
synthetic_vocab make_spm_vocab(std::uint32_t n_vocab);

/// A GPT-2-style byte-level BPE vocabulary: the 256 byte characters (GPT-2's byte-to-unicode
/// table, ids 0..255 in byte order), then tokens for common words and letter groups (with and
/// without a leading "Ġ" space), each built by one merge of two existing tokens, and
/// `<|endoftext|>` (control) as the last id. n_vocab >= 257.
synthetic_vocab make_bpe_vocab(std::uint32_t n_vocab);

} // namespace troupe::inference
