// Random-weight Llama-family models written as GGUF, for tests and benchmarks: the metadata and
// tensor names/shapes llama.cpp expects, a synthetic SentencePiece-style vocabulary, and
// weights drawn from N(0, weight_std) with a seeded PRNG (identical bytes for a seed on every
// platform and standard library).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "troupe/inference/error.hpp"
#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

/// Hyper-parameters of a generated model. Defaults are the "tiny" preset.
struct model_spec {
  std::string arch = "llama";  ///< "llama" or "qwen2" (qwen2 adds q/k/v biases)
  std::uint32_t n_vocab = 512;
  std::uint32_t n_embd = 256;
  std::uint32_t n_layer = 2;
  std::uint32_t n_head = 4;
  std::uint32_t n_head_kv = 2;
  std::uint32_t n_ff = 512;
  std::uint32_t n_ctx = 256;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  ///< no output.weight; the logits reuse token_embd.weight
  tensor_type weight_type = tensor_type::f32;  ///< matrices (embedding and output included)
  std::uint64_t seed = 1;
  float weight_std = 0.1f;   ///< standard deviation of matrix and bias values
  std::string name = "troupe-random";  ///< general.name
  /// "llama": SentencePiece-style vocabulary (<unk>, <s>, </s>, <0xNN> byte tokens, "▁"
  /// pieces); "gpt2": byte-level BPE with merges, pre-tokenizer "default", <|endoftext|> last.
  std::string tokenizer = "llama";
};

/// A named preset: "tiny" (the defaults) or "smollm-360m" (n_embd 960, 32 layers, 15 heads,
/// 5 KV heads, ffn 2560, vocab 49152, ctx 2048, tied output, rope_theta 100000).
/// Errors: invalid_argument for an unknown name.
result<model_spec> model_preset(std::string_view name);

/// Parses "f32", "F16", "q8_0", ... into a tensor type. Errors: invalid_argument.
result<tensor_type> parse_tensor_type(std::string_view name);

/// Checks the spec: non-zero sizes, n_embd divisible by n_head, n_head by n_head_kv,
/// n_vocab >= 259 (3 special + 256 byte tokens; 257 for gpt2), rows compatible with the weight type's block
/// size, a known arch. Errors: invalid_argument; unsupported for weight types the generator
/// cannot produce yet.
result<void> validate(const model_spec& spec);

/// Writes a random model for `spec` to `path` (atomically). Errors: those of validate(), io.
result<void> write_random_model(const model_spec& spec, const std::filesystem::path& path);

} // namespace troupe::inference
