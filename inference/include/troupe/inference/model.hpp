// A loaded Llama-family model: hyper-parameters read from GGUF metadata and validated views of
// every weight tensor, pointing into the memory-mapped file. Where this CPU's kernels have a
// faster layout for a matrix (pack_weights: Q8_0 on AVX-512 VNNI), it is also copied once, at
// load, into that layout (weight_view::packed), which matmul reads; the reference forward pass
// and the embedding lookup keep reading the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/gguf.hpp"
#include "troupe/inference/matmul.hpp"
#include "troupe/inference/ops.hpp"

namespace troupe::inference {

/// The architecture's numbers, read from `<arch>.*` metadata keys.
struct hparams {
  std::string arch;              ///< "llama" or "qwen2"
  std::uint32_t n_vocab = 0;     ///< rows of token_embd
  std::uint32_t n_embd = 0;      ///< residual stream width
  std::uint32_t n_layer = 0;
  std::uint32_t n_head = 0;      ///< query heads
  std::uint32_t n_head_kv = 0;   ///< key/value heads (n_head / n_head_kv queries share one)
  std::uint32_t head_dim = 0;    ///< n_embd / n_head unless attention.key_length says otherwise
  std::uint32_t n_ff = 0;        ///< feed-forward hidden width
  std::uint32_t n_ctx_train = 0; ///< context length the model was trained for
  float rope_theta = 10000.0f;   ///< RoPE frequency base
  float rope_freq_scale = 1.0f;  ///< 1 / linear scaling factor (positions are multiplied by it)
  float rms_eps = 1e-5f;         ///< RMSNorm epsilon
  bool tied_output = false;      ///< no output.weight: the logits use token_embd
  bool qkv_bias = false;         ///< attention q/k/v have biases (qwen2)
  rope_style rope = rope_style::adjacent;

  /// Width of all query heads together (n_head * head_dim).
  [[nodiscard]] std::uint32_t q_dim() const { return n_head * head_dim; }
  /// Width of all key (or value) heads together (n_head_kv * head_dim).
  [[nodiscard]] std::uint32_t kv_dim() const { return n_head_kv * head_dim; }
};

/// The weights of one transformer block. Matrices are (rows = outputs, cols = inputs).
struct layer_weights {
  const float* attn_norm = nullptr;  ///< (n_embd)
  weight_view wq{};                    ///< (q_dim, n_embd)
  weight_view wk{};                    ///< (kv_dim, n_embd)
  weight_view wv{};                    ///< (kv_dim, n_embd)
  const float* bq = nullptr;         ///< (q_dim) or null
  const float* bk = nullptr;         ///< (kv_dim) or null
  const float* bv = nullptr;         ///< (kv_dim) or null
  weight_view wo{};                    ///< (n_embd, q_dim)
  const float* ffn_norm = nullptr;   ///< (n_embd)
  weight_view w_gate{};                ///< (n_ff, n_embd)
  weight_view w_up{};                  ///< (n_ff, n_embd)
  weight_view w_down{};                ///< (n_embd, n_ff)
};

/// An immutable model, shared by every context that runs it (thread-safe to read).
class model {
public:
  /// Opens and validates a GGUF file: an unknown architecture is `unsupported`; a missing
  /// tensor, a wrong shape or an unsupported type is an error naming the tensor. By default
  /// the file is read into anonymous memory with transparent huge pages (decode streams every
  /// weight once per token, and 4 KiB pages cost it TLB misses: measured 4-8% of decode
  /// speed here), unless every matrix is packed for the kernels anyway (then the shared
  /// mapping is kept); gguf_memory::mapped always shares the page cache instead.
  [[nodiscard]] static result<std::shared_ptr<const model>> load(const std::string& path,
                                                                 gguf_memory memory = gguf_memory::huge_pages);

  /// Validates an already opened file (takes ownership of it).
  [[nodiscard]] static result<std::shared_ptr<const model>> from_file(gguf_file file);

  [[nodiscard]] const hparams& params() const { return hp_; }
  [[nodiscard]] const gguf_file& file() const { return file_; }
  [[nodiscard]] const weight_view& token_embd() const { return token_embd_; }  ///< (n_vocab, n_embd)
  [[nodiscard]] const float* output_norm() const { return output_norm_; }      ///< (n_embd)
  [[nodiscard]] const weight_view& output() const { return output_; }          ///< (n_vocab, n_embd)
  [[nodiscard]] const std::vector<layer_weights>& layers() const { return layers_; }
  /// Bytes of weights read to compute one token (every matrix once, plus one embedding row).
  [[nodiscard]] std::size_t weight_bytes_per_token() const;

  /// Copies row `token` of the embedding table into `out` (n_embd floats), dequantizing.
  void embed(std::int32_t token, float* out) const;

private:
  explicit model(gguf_file file) : file_(std::move(file)) {}
  /// Re-lays-out the matrices matmul reads (pack_weights) and points their views at the copies.
  void pack_for_kernels();
  /// True when matmul reads every matrix from packed_ (the file's blocks only serve embed()
  /// and the reference forward pass).
  [[nodiscard]] bool all_matrices_packed() const;

  gguf_file file_;
  hparams hp_;
  weight_view token_embd_{};
  const float* output_norm_ = nullptr;
  weight_view output_{};
  std::vector<layer_weights> layers_;
  packed_weights packed_;  ///< owner of the weight_view::packed copies
};

/// Reads hyper-parameters from metadata (exposed for tests and `troupe info`-like tools).
[[nodiscard]] result<hparams> read_hparams(const gguf_file& file);

} // namespace troupe::inference
