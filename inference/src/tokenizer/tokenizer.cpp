// Construction, special-token splitting, decoding and lookups of troupe::inference::tokenizer.
// The merge algorithms live in spm.cpp and bpe.cpp.
#include <algorithm>
#include <array>
#include <cstdio>

#include <fmt/format.h>

#include "tokenizer/pretokenize.hpp"
#include "tokenizer/unicode.hpp"
#include <troupe/inference/vocab.hpp>

namespace troupe::inference {
namespace {

// Tokens that end generation wherever a vocabulary has them (as in llama.cpp, which also
// treats them as control tokens whatever their stored type). The first seven may also serve
// as the end-of-turn token when the file names none.
constexpr std::array<std::string_view, 13> k_eog_texts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>",      "<|eom_id|>", "</s>",    "<eos>",         "<end_of_utterance>", "[EOT]",
    "[EOS]",
};
constexpr std::size_t k_eot_candidates = 7;

int32_t checked_id(int32_t id, std::size_t n) {
  return id >= 0 && static_cast<std::size_t>(id) < n ? id : -1;
}

bool is_special_type(token_type t) {
  return t == token_type::control || t == token_type::user_defined || t == token_type::unknown;
}

/// Replaces every `from` in `s` by `to`.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) {
      out.append(s.substr(pos));
      return out;
    }
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
}

constexpr std::string_view k_spm_space = "\xE2\x96\x81";  // U+2581 "▁"

/// A piece of the input: raw text (token < 0) or an already recognised special token.
struct fragment {
  std::string_view text;
  int32_t token = -1;
};

} // namespace

tokenizer::tokenizer(vocab_data data) : kind_(data.kind) {
  const std::size_t n = data.tokens.size();
  pieces_ = std::move(data.tokens);
  scores_ = std::move(data.scores);
  scores_.resize(n, 0.0f);
  types_ = std::move(data.types);
  types_.resize(n, token_type::normal);
  ids_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids_.insert_or_assign(pieces_[i], static_cast<int32_t>(i));  // a later duplicate wins
  }

  bos_ = checked_id(data.bos, n);
  eos_ = checked_id(data.eos, n);
  eot_ = checked_id(data.eot, n);
  unk_ = checked_id(data.unk, n);
  pad_ = checked_id(data.pad, n);

  if (kind_ == vocab_kind::spm) {
    add_space_prefix_ = data.add_space_prefix.value_or(true);
    add_bos_ = data.add_bos.value_or(true);
    byte_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      byte_ids_[static_cast<std::size_t>(b)] = find(fmt::format("<0x{:02X}>", b));
    }
  } else {
    const auto style = detail::pre_style_from_name(data.pre).value_or(detail::pre_style::fallback);
    pre_style_ = static_cast<int>(style);
    ignore_merges_ = style == detail::pre_style::llama3;
    add_space_prefix_ = data.add_space_prefix.value_or(false);
    add_bos_ = data.add_bos.value_or(style == detail::pre_style::llama3);
    ranks_.reserve(data.merges.size());
    for (std::size_t i = 0; i < data.merges.size(); ++i) {
      const std::string& m = data.merges[i];
      const std::size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) {
        continue;
      }
      std::string key = m.substr(0, sp);
      key += '\xff';
      key.append(m, sp + 1);
      ranks_.emplace(std::move(key), static_cast<int>(i));  // the first (best) rank stays
    }
  }
  add_eos_ = data.add_eos.value_or(false);

  for (std::size_t i = 0; i < k_eog_texts.size(); ++i) {
    const int32_t id = find(k_eog_texts[i]);
    if (id < 0) {
      continue;
    }
    eog_.insert(id);
    types_[static_cast<std::size_t>(id)] = token_type::control;
    if (eot_ < 0 && i < k_eot_candidates) {
      eot_ = id;
    }
  }
  if (eos_ >= 0) eog_.insert(eos_);
  if (eot_ >= 0) eog_.insert(eot_);

  for (std::size_t i = 0; i < n; ++i) {
    if (is_special_type(types_[i])) {
      specials_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(), [this](int32_t a, int32_t b) {
    return pieces_[static_cast<std::size_t>(a)].size() > pieces_[static_cast<std::size_t>(b)].size();
  });
}

result<tokenizer> tokenizer::from_vocab(vocab_data data) {
  const std::size_t n = data.tokens.size();
  if (n == 0) {
    return fail(errc::invalid_argument, "tokenizer: the vocabulary has no tokens");
  }
  if (!data.scores.empty() && data.scores.size() != n) {
    return fail(errc::invalid_argument,
                fmt::format("tokenizer: {} scores for {} tokens", data.scores.size(), n));
  }
  if (!data.types.empty() && data.types.size() != n) {
    return fail(errc::invalid_argument,
                fmt::format("tokenizer: {} token types for {} tokens", data.types.size(), n));
  }
  if (data.kind == vocab_kind::bpe && !detail::pre_style_from_name(data.pre)) {
    return fail(errc::unsupported,
                fmt::format("tokenizer: pre-tokenizer '{}' is not supported", data.pre));
  }
  return tokenizer(std::move(data));
}

std::vector<int32_t> tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  // Split special-token text out of the raw text, longest special tokens first.
  std::vector<fragment> frags;
  if (!text.empty()) {
    frags.push_back({text, -1});
  }
  for (const int32_t id : specials_) {
    const token_type t = types_[static_cast<std::size_t>(id)];
    if (!parse_special && t != token_type::user_defined) {
      continue;
    }
    const std::string_view special = pieces_[static_cast<std::size_t>(id)];
    std::vector<fragment> next;
    next.reserve(frags.size());
    for (const fragment& f : frags) {
      if (f.token >= 0 || f.text.find(special) == std::string_view::npos) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      for (std::size_t hit = rest.find(special); hit != std::string_view::npos;
           hit = rest.find(special)) {
        if (hit > 0) next.push_back({rest.substr(0, hit), -1});
        next.push_back({{}, id});
        rest.remove_prefix(hit + special.size());
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    frags = std::move(next);
  }

  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_ >= 0) {
    out.push_back(bos_);
  }
  bool prev_special = true;  // SPM: the text start counts as "after a special token"
  for (const fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    if (kind_ == vocab_kind::spm) {
      std::string s = (add_space_prefix_ && prev_special) ? " " : "";
      s.append(f.text);
      encode_spm(replace_all(s, " ", k_spm_space), out);
    } else {
      encode_bpe(f.text, out);
    }
    prev_special = false;
  }
  if (add_special && add_eos_ && eos_ >= 0) {
    out.push_back(eos_);
  }
  return out;
}

std::string tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) {
    return {};
  }
  const std::string& raw = pieces_[static_cast<std::size_t>(id)];
  const token_type t = types_[static_cast<std::size_t>(id)];
  if (is_special_type(t)) {
    return raw;
  }
  if (t == token_type::byte) {
    unsigned value = 0;
    if (raw.size() == 6 && std::sscanf(raw.c_str(), "<0x%2X>", &value) == 1) {
      return std::string(1, static_cast<char>(value));
    }
    return raw;
  }
  if (kind_ == vocab_kind::spm) {
    return replace_all(raw, k_spm_space, " ");
  }
  std::string out;
  for (const uint32_t cpt : unicode::decode_utf8(raw)) {
    const int byte = unicode::cpt_to_byte(cpt);
    if (byte >= 0) {
      out += static_cast<char>(byte);
    } else {
      unicode::append_utf8(out, cpt);  // not a byte-level piece: keep the character
    }
  }
  return out;
}

std::string tokenizer::decode(std::span<const int32_t> ids, bool special) const {
  std::string out;
  bool strip_space = add_space_prefix_;
  for (const int32_t id : ids) {
    const token_type t = type_of(id);
    if (!special && (t == token_type::control || t == token_type::unknown)) {
      continue;  // e.g. BOS: the space after it still goes
    }
    std::string piece = token_to_piece(id);
    if (strip_space && !piece.empty() && piece.front() == ' ') {
      piece.erase(0, 1);
    }
    strip_space = false;
    out += piece;
  }
  return out;
}

int32_t tokenizer::find(std::string_view piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::string_view tokenizer::raw_piece(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) {
    return {};
  }
  return pieces_[static_cast<std::size_t>(id)];
}

token_type tokenizer::type_of(int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= types_.size()) {
    return token_type::undefined;
  }
  return types_[static_cast<std::size_t>(id)];
}

float tokenizer::score_of(int32_t id) const { return scores_[static_cast<std::size_t>(id)]; }

} // namespace troupe::inference
