// Tokenizers of Llama-family models: SentencePiece-style score merges ("llama" vocabularies)
// and GPT-2 byte-level BPE ("gpt2" vocabularies), built from GGUF metadata or by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <troupe/inference/error.hpp>

namespace troupe::inference {

class gguf_file;

/// GGUF's `tokenizer.ggml.token_type` values.
enum class token_type : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,       ///< <s>, <|im_start|>, ...: only parsed from text when asked to
  user_defined = 4,  ///< always split out of the text before tokenizing
  unused = 5,
  byte = 6,          ///< <0xXX> byte-fallback tokens of SentencePiece vocabularies
};

/// Which merge algorithm the vocabulary uses (`tokenizer.ggml.model`).
enum class vocab_kind {
  spm,  ///< "llama": SentencePiece BPE, highest-score pair first, "▁" for spaces, byte fallback
  bpe,  ///< "gpt2": byte-level BPE, lowest merge rank first, words from a pre-tokenizer
};

/// Everything a tokenizer is built from; what GGUF stores under `tokenizer.ggml.*`.
struct vocab_data {
  vocab_kind kind = vocab_kind::spm;
  std::string pre;                  ///< BPE pre-tokenizer name ("llama-bpe", "qwen2", ...)
  std::vector<std::string> tokens;  ///< the piece of each id
  std::vector<float> scores;        ///< per token (SPM merge priority); empty: all 0
  std::vector<token_type> types;    ///< per token; empty: all normal
  std::vector<std::string> merges;  ///< BPE "left right" pairs, best (rank 0) first
  int32_t bos = -1;                 ///< -1: none
  int32_t eos = -1;
  int32_t eot = -1;                 ///< -1: looked up by text (<|eot_id|>, <|im_end|>, ...)
  int32_t unk = -1;
  int32_t pad = -1;
  std::optional<bool> add_bos;           ///< unset: SPM and llama3-style BPE add BOS
  std::optional<bool> add_eos;           ///< unset: no
  std::optional<bool> add_space_prefix;  ///< unset: SPM yes, BPE no
};

/// Text <-> token ids for one vocabulary. Immutable after construction; every const member is
/// safe to call from several threads at once.
class tokenizer {
public:
  /// Builds from plain data. Special ids out of range become -1; an unknown BPE pre-tokenizer
  /// name falls back to llama.cpp's "default" rules (use from_vocab to reject it instead).
  explicit tokenizer(vocab_data data);

  /// Builds from plain data, rejecting an empty vocabulary, per-token arrays of the wrong
  /// length, and BPE pre-tokenizer names troupe does not implement (errc::unsupported).
  static result<tokenizer> from_vocab(vocab_data data);

  /// Reads `tokenizer.ggml.*` from a GGUF file (model "llama" or "gpt2").
  static result<tokenizer> from_gguf(const gguf_file& file);

  /// Token ids of `text`. `add_special` adds BOS (and EOS) as the model's config says;
  /// `parse_special` turns control-token text such as "<|im_start|>" into its id (without it,
  /// such text is tokenized as plain characters; user-defined tokens are always recognised).
  [[nodiscard]] std::vector<int32_t> encode(std::string_view text, bool add_special,
                                            bool parse_special) const;

  /// The bytes token `id` stands for: byte tokens give their byte, SPM "▁" gives a space,
  /// byte-level BPE pieces are mapped back to bytes, control tokens give their text. May be
  /// a partial UTF-8 sequence (see utf8_stream). Empty for ids out of range.
  [[nodiscard]] std::string token_to_piece(int32_t id) const;

  /// The text of a token sequence. Control and unknown-type tokens are left out unless
  /// `special`; for SPM vocabularies the space prefix added by encode is removed again.
  [[nodiscard]] std::string decode(std::span<const int32_t> ids, bool special = false) const;

  [[nodiscard]] int32_t bos() const { return bos_; }  ///< -1 if none
  [[nodiscard]] int32_t eos() const { return eos_; }  ///< -1 if none
  [[nodiscard]] int32_t eot() const { return eot_; }  ///< -1 if none
  [[nodiscard]] int32_t unk() const { return unk_; }  ///< -1 if none
  [[nodiscard]] int32_t pad() const { return pad_; }  ///< -1 if none
  [[nodiscard]] bool add_bos() const { return add_bos_; }
  [[nodiscard]] bool add_eos() const { return add_eos_; }
  [[nodiscard]] vocab_kind kind() const { return kind_; }

  /// True for tokens that end generation: eos, eot and <|im_end|>, <|eot_id|>, <|end|>,
  /// <|endoftext|>, <|end_of_text|>, <end_of_turn>, <|eom_id|> where the vocabulary has them.
  [[nodiscard]] bool is_eog(int32_t id) const { return eog_.count(id) != 0; }

  [[nodiscard]] std::size_t n_vocab() const { return pieces_.size(); }

  /// The id whose vocabulary entry is exactly `piece` (raw, e.g. "▁the", "Ġthe"); -1 if none.
  [[nodiscard]] int32_t find(std::string_view piece) const;

  /// The raw vocabulary entry of `id` (not decoded); empty for ids out of range.
  [[nodiscard]] std::string_view raw_piece(int32_t id) const;

  /// The type of `id`; token_type::undefined for ids out of range.
  [[nodiscard]] token_type type_of(int32_t id) const;

private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using string_map = std::unordered_map<std::string, int32_t, string_hash, std::equal_to<>>;

  void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const;
  [[nodiscard]] int merge_rank(std::string_view left, std::string_view right) const;
  [[nodiscard]] float score_of(int32_t id) const;

  vocab_kind kind_;
  int pre_style_ = 0;  // detail::pre_style, kept as int to keep the header free of it
  bool ignore_merges_ = false;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<token_type> types_;
  string_map ids_;
  string_map ranks_;  // key: left + '\xff' + right (0xFF never occurs in UTF-8)
  std::vector<int32_t> specials_;  // control / user-defined / unknown ids, longest text first
  std::vector<int32_t> byte_ids_;  // SPM: id of <0xXX> for each byte, -1 if missing
  std::unordered_set<int32_t> eog_;
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  int32_t eot_ = -1;
  int32_t unk_ = -1;
  int32_t pad_ = -1;
};

/// Turns a stream of token pieces into text that only ever contains whole UTF-8 characters:
/// an incomplete trailing sequence is held back until its remaining bytes arrive. Invalid
/// bytes are passed through as U+FFFD.
class utf8_stream {
public:
  /// Appends `bytes` and returns every character now complete.
  std::string push(std::string_view bytes);
  /// Returns what is still held back (an incomplete sequence becomes U+FFFD) and resets.
  std::string flush();

private:
  std::string pending_;
};

} // namespace troupe::inference
