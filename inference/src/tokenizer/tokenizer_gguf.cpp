// tokenizer::from_gguf: the `tokenizer.ggml.*` keys of a GGUF file -> vocab_data.
#include <fmt/format.h>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

namespace troupe::inference {
namespace {

/// An optional u32 id key: -1 when absent; an error when present but malformed.
result<int32_t> optional_id(const gguf_file& f, std::string_view key) {
  if (f.find(key) == nullptr) {
    return -1;
  }
  auto v = f.get_u32(key);
  if (!v) {
    return tl::make_unexpected(v.error());
  }
  return static_cast<int32_t>(*v);
}

result<std::optional<bool>> optional_bool(const gguf_file& f, std::string_view key) {
  if (f.find(key) == nullptr) {
    return std::optional<bool>{};
  }
  auto v = f.get_bool(key);
  if (!v) {
    return tl::make_unexpected(v.error());
  }
  return std::optional<bool>{*v};
}

} // namespace

result<tokenizer> tokenizer::from_gguf(const gguf_file& file) {
  vocab_data d;
  auto model = file.get_string("tokenizer.ggml.model");
  if (!model) {
    return tl::make_unexpected(model.error());
  }
  if (*model == "llama") {
    d.kind = vocab_kind::spm;
  } else if (*model == "gpt2") {
    d.kind = vocab_kind::bpe;
  } else {
    return fail(errc::unsupported,
                fmt::format("tokenizer: tokenizer.ggml.model '{}' is not supported (llama, gpt2)",
                            *model));
  }

  auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) {
    return tl::make_unexpected(tokens.error());
  }
  d.tokens.assign(tokens->begin(), tokens->end());
  for (std::size_t i = 0; i < d.tokens.size(); ++i) {
    if (d.tokens[i].empty()) {
      d.tokens[i] = fmt::format("[EMPTY_{}]", i);  // an empty piece would match everywhere
    }
  }

  if (file.find("tokenizer.ggml.scores") != nullptr) {
    auto scores = file.get_f32_array("tokenizer.ggml.scores");
    if (!scores) {
      return tl::make_unexpected(scores.error());
    }
    d.scores = std::move(*scores);
  }
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    auto types = file.get_i32_array("tokenizer.ggml.token_type");
    if (!types) {
      return tl::make_unexpected(types.error());
    }
    d.types.reserve(types->size());
    for (const int32_t t : *types) {
      d.types.push_back(t >= 0 && t <= 6 ? static_cast<token_type>(t) : token_type::undefined);
    }
  }
  if (d.kind == vocab_kind::bpe) {
    auto merges = file.get_string_array("tokenizer.ggml.merges");
    if (!merges) {
      return tl::make_unexpected(merges.error());
    }
    d.merges.assign(merges->begin(), merges->end());
    if (file.find("tokenizer.ggml.pre") != nullptr) {
      auto pre = file.get_string("tokenizer.ggml.pre");
      if (!pre) {
        return tl::make_unexpected(pre.error());
      }
      d.pre = std::string(*pre);
    }
  } else {
    d.bos = 1;  // llama.cpp's defaults for SentencePiece vocabularies
    d.eos = 2;
    d.unk = 0;
  }

  const std::pair<std::string_view, int32_t*> ids[] = {
      {"tokenizer.ggml.bos_token_id", &d.bos},
      {"tokenizer.ggml.eos_token_id", &d.eos},
      {"tokenizer.ggml.eot_token_id", &d.eot},
      {"tokenizer.ggml.unknown_token_id", &d.unk},
      {"tokenizer.ggml.padding_token_id", &d.pad},
  };
  for (const auto& [key, dst] : ids) {
    auto id = optional_id(file, key);
    if (!id) {
      return tl::make_unexpected(id.error());
    }
    if (*id >= 0) {
      *dst = *id;
    }
  }
  const std::pair<std::string_view, std::optional<bool>*> flags[] = {
      {"tokenizer.ggml.add_bos_token", &d.add_bos},
      {"tokenizer.ggml.add_eos_token", &d.add_eos},
      {"tokenizer.ggml.add_space_prefix", &d.add_space_prefix},
  };
  for (const auto& [key, dst] : flags) {
    auto v = optional_bool(file, key);
    if (!v) {
      return tl::make_unexpected(v.error());
    }
    if (v->has_value()) {
      *dst = *v;
    }
  }
  return from_vocab(std::move(d));
}

} // namespace troupe::inference
