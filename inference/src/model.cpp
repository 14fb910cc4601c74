#include "troupe/inference/model.hpp"

#include <fmt/format.h>

#include "troupe/inference/quant.hpp"
#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

namespace {

// --- metadata -------------------------------------------------------------------------------

result<std::uint32_t> required_u32(const gguf_file& f, const std::string& key) {
  auto v = f.get_u32(key);
  if (!v) return fail(errc::invalid_file, fmt::format("model metadata: {}: {}", key, v.error().message));
  return *v;
}

std::uint32_t optional_u32(const gguf_file& f, const std::string& key, std::uint32_t fallback) {
  auto v = f.get_u32(key);
  return v ? *v : fallback;
}

float optional_f32(const gguf_file& f, const std::string& key, float fallback) {
  auto v = f.get_f32(key);
  return v ? *v : fallback;
}

// --- tensors --------------------------------------------------------------------------------

/// A 2-D weight whose ggml shape must be (cols, rows).
result<weight_view> matrix(const gguf_file& f, const std::string& name, std::uint64_t cols,
                           std::uint64_t rows) {
  const auto* t = f.find_tensor(name);
  if (t == nullptr) return fail(errc::invalid_file, fmt::format("tensor {}: missing", name));
  if (t->shape.size() != 2 || t->shape[0] != cols || t->shape[1] != rows)
    return fail(errc::invalid_file, fmt::format("tensor {}: shape [{}], expected [{}, {}]", name,
                                                fmt::join(t->shape, ", "), cols, rows));
  if (!is_kernel_type(t->type))
    return fail(errc::unsupported,
                fmt::format("tensor {}: type {} is not supported", name, traits_of(t->type).name));
  if (cols % traits_of(t->type).block_elems != 0)
    return fail(errc::invalid_file, fmt::format("tensor {}: row length {} is not a multiple of the "
                                                "{} block size", name, cols, traits_of(t->type).name));
  weight_view w;
  w.type = t->type;
  w.data = t->data;
  w.rows = static_cast<std::size_t>(rows);
  w.cols = static_cast<std::size_t>(cols);
  w.row_bytes = row_bytes(t->type, w.cols);
  return w;
}

/// A 1-D F32 vector of length n (norm weights, biases).
result<const float*> vector(const gguf_file& f, const std::string& name, std::uint64_t n) {
  const auto* t = f.find_tensor(name);
  if (t == nullptr) return fail(errc::invalid_file, fmt::format("tensor {}: missing", name));
  if (t->shape.size() != 1 || t->shape[0] != n)
    return fail(errc::invalid_file, fmt::format("tensor {}: shape [{}], expected [{}]", name,
                                                fmt::join(t->shape, ", "), n));
  if (t->type != tensor_type::f32)
    return fail(errc::unsupported, fmt::format("tensor {}: type {} is not supported (want F32)",
                                               name, traits_of(t->type).name));
  return reinterpret_cast<const float*>(t->data);
}

} // namespace

result<hparams> read_hparams(const gguf_file& f) {
  auto arch = f.get_string("general.architecture");
  if (!arch) return fail(errc::invalid_file, "model metadata: general.architecture is missing");
  hparams hp;
  hp.arch = std::string(*arch);
  if (hp.arch == "llama") {
    hp.rope = rope_style::adjacent;
  } else if (hp.arch == "qwen2") {
    hp.rope = rope_style::halves;
    hp.qkv_bias = true;
  } else {
    return fail(errc::unsupported, fmt::format("architecture '{}' is not supported (llama, qwen2)", hp.arch));
  }
  const std::string a = hp.arch + ".";
  auto get = [&](const char* key, std::uint32_t& out) -> result<void> {
    auto v = required_u32(f, a + key);
    if (!v) return tl::make_unexpected(v.error());
    out = *v;
    return {};
  };
  for (auto r : {get("embedding_length", hp.n_embd), get("block_count", hp.n_layer),
                 get("feed_forward_length", hp.n_ff), get("attention.head_count", hp.n_head),
                 get("context_length", hp.n_ctx_train)})
    if (!r) return tl::make_unexpected(r.error());
  hp.n_head_kv = optional_u32(f, a + "attention.head_count_kv", hp.n_head);
  if (hp.n_head == 0 || hp.n_head_kv == 0 || hp.n_head % hp.n_head_kv != 0 || hp.n_embd == 0)
    return fail(errc::invalid_file, fmt::format("model metadata: {} heads / {} kv heads / n_embd {} "
                                                "do not fit", hp.n_head, hp.n_head_kv, hp.n_embd));
  hp.head_dim = optional_u32(f, a + "attention.key_length", hp.n_embd / hp.n_head);
  if (optional_u32(f, a + "attention.value_length", hp.head_dim) != hp.head_dim)
    return fail(errc::unsupported, "model metadata: key and value head sizes differ");
  if (hp.head_dim == 0 || hp.head_dim % 2 != 0)
    return fail(errc::invalid_file, fmt::format("model metadata: head size {} must be even", hp.head_dim));
  if (optional_u32(f, a + "rope.dimension_count", hp.head_dim) != hp.head_dim)
    return fail(errc::unsupported, "model metadata: partial RoPE (rope.dimension_count != head size)");
  hp.rope_theta = optional_f32(f, a + "rope.freq_base", 10000.0f);
  hp.rms_eps = optional_f32(f, a + "attention.layer_norm_rms_epsilon", 1e-5f);
  if (auto type = f.get_string(a + "rope.scaling.type"); type && *type != "none") {
    if (*type != "linear")
      return fail(errc::unsupported, fmt::format("RoPE scaling '{}' is not supported (linear)", *type));
    const float factor = optional_f32(f, a + "rope.scaling.factor", 1.0f);
    if (factor <= 0) return fail(errc::invalid_file, "model metadata: rope.scaling.factor <= 0");
    hp.rope_freq_scale = 1.0f / factor;
  }
  const auto* emb = f.find_tensor("token_embd.weight");
  if (emb == nullptr) return fail(errc::invalid_file, "tensor token_embd.weight: missing");
  if (emb->shape.size() != 2)
    return fail(errc::invalid_file, "tensor token_embd.weight: expected 2 dimensions");
  hp.n_vocab = static_cast<std::uint32_t>(emb->shape[1]);
  hp.tied_output = f.find_tensor("output.weight") == nullptr;
  return hp;
}

result<std::shared_ptr<const model>> model::load(const std::string& path, gguf_memory memory) {
  if (memory == gguf_memory::huge_pages) {
    // matmul reads packed matrices from their own huge-page copy, never from the file; when
    // every matrix is packed (Q8_0 on AVX-512 VNNI), a private copy of the file as well would
    // only double the resident weights, so the shared mapping is kept.
    auto mapped = gguf_file::open(path, gguf_memory::mapped);
    if (!mapped) return tl::make_unexpected(mapped.error());
    auto m = from_file(std::move(*mapped));
    if (!m || (*m)->all_matrices_packed()) return m;
  }
  auto file = gguf_file::open(path, memory);
  if (!file) return tl::make_unexpected(file.error());
  return from_file(std::move(*file));
}

result<std::shared_ptr<const model>> model::from_file(gguf_file file) {
  std::shared_ptr<model> m(new model(std::move(file)));
  const gguf_file& f = m->file_;
  auto hp = read_hparams(f);
  if (!hp) return tl::make_unexpected(hp.error());
  m->hp_ = *hp;
  const hparams& h = m->hp_;

  // Unwraps a result into `out` or returns its error from this function.
#define TROUPE_TRY_SET(out, expr)                         \
  do {                                                    \
    auto r_ = (expr);                                     \
    if (!r_) return tl::make_unexpected(r_.error());      \
    (out) = *r_;                                          \
  } while (false)

  TROUPE_TRY_SET(m->token_embd_, matrix(f, "token_embd.weight", h.n_embd, h.n_vocab));
  TROUPE_TRY_SET(m->output_norm_, vector(f, "output_norm.weight", h.n_embd));
  if (h.tied_output) {
    m->output_ = m->token_embd_;
  } else {
    TROUPE_TRY_SET(m->output_, matrix(f, "output.weight", h.n_embd, h.n_vocab));
  }
  m->layers_.resize(h.n_layer);
  for (std::uint32_t i = 0; i < h.n_layer; ++i) {
    layer_weights& l = m->layers_[i];
    const auto n = [i](const char* what) { return fmt::format("blk.{}.{}", i, what); };
    TROUPE_TRY_SET(l.attn_norm, vector(f, n("attn_norm.weight"), h.n_embd));
    TROUPE_TRY_SET(l.wq, matrix(f, n("attn_q.weight"), h.n_embd, h.q_dim()));
    TROUPE_TRY_SET(l.wk, matrix(f, n("attn_k.weight"), h.n_embd, h.kv_dim()));
    TROUPE_TRY_SET(l.wv, matrix(f, n("attn_v.weight"), h.n_embd, h.kv_dim()));
    if (h.qkv_bias) {
      TROUPE_TRY_SET(l.bq, vector(f, n("attn_q.bias"), h.q_dim()));
      TROUPE_TRY_SET(l.bk, vector(f, n("attn_k.bias"), h.kv_dim()));
      TROUPE_TRY_SET(l.bv, vector(f, n("attn_v.bias"), h.kv_dim()));
    }
    TROUPE_TRY_SET(l.wo, matrix(f, n("attn_output.weight"), h.q_dim(), h.n_embd));
    TROUPE_TRY_SET(l.ffn_norm, vector(f, n("ffn_norm.weight"), h.n_embd));
    TROUPE_TRY_SET(l.w_gate, matrix(f, n("ffn_gate.weight"), h.n_embd, h.n_ff));
    TROUPE_TRY_SET(l.w_up, matrix(f, n("ffn_up.weight"), h.n_embd, h.n_ff));
    TROUPE_TRY_SET(l.w_down, matrix(f, n("ffn_down.weight"), h.n_ff, h.n_embd));
  }
#undef TROUPE_TRY_SET
  m->pack_for_kernels();
  return std::shared_ptr<const model>(std::move(m));
}

bool model::all_matrices_packed() const {
  if (output_.packed == nullptr) return false;
  for (const layer_weights& l : layers_)
    for (const weight_view* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      if (w->packed == nullptr) return false;
  return true;
}

void model::pack_for_kernels() {
  // A tied output is a copy of token_embd_'s view, which embed() keeps reading as it is.
  std::vector<weight_view*> ws{&output_};
  for (layer_weights& l : layers_)
    for (weight_view* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) ws.push_back(w);
  // Views without a faster layout on this CPU (or all, if memory cannot be mapped) keep
  // packed == nullptr: matmul then reads the file's blocks.
  packed_ = pack_weights(ws);
  // matmul reads the packed copies only: the file's pages of those matrices need not stay
  // resident (a tied output's pages are the embeddings', which embed() reads a row at a time).
  for (const weight_view* w : ws)
    if (w->packed != nullptr) file_.release_resident(w->data, w->rows * w->row_bytes);
}

std::size_t model::weight_bytes_per_token() const {
  const auto bytes = [](const weight_view& w) { return w.rows * w.row_bytes; };
  std::size_t total = bytes(output_) + token_embd_.row_bytes;
  for (const auto& l : layers_)
    total += bytes(l.wq) + bytes(l.wk) + bytes(l.wv) + bytes(l.wo) + bytes(l.w_gate) +
             bytes(l.w_up) + bytes(l.w_down);
  return total;
}

void model::embed(std::int32_t token, float* out) const {
  const auto* row = reinterpret_cast<const std::uint8_t*>(token_embd_.data) +
                    static_cast<std::size_t>(token) * token_embd_.row_bytes;
  dequantize_row(token_embd_.type, row, out, token_embd_.cols);
}

} // namespace troupe::inference
