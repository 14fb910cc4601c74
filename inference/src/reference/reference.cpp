// The reference forward pass, in the style of llama2.c's run.c: every step a plain loop.
#include "troupe/inference/reference.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "troupe/inference/matmul.hpp"

namespace troupe::inference {

// Its own plain loops (not ops.hpp), so the oracle shares no code with the fast path.
namespace plain {

// out(d) = W(d, n) · x(n): each weight row dequantized exactly, dot product in double.
void matvec(const weight_view& w, const float* x, float* out) { matmul_reference(w, x, 1, out); }

// out(n) = x(n) / rms(x) * weight(n)
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps) {
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

// In place over x(n).
void softmax(float* x, std::size_t n) {
  const float max_val = *std::max_element(x, x + n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(x[i] / sum);
}

// Rotates one head vec(head_dim) in place for position pos.
void rope(float* vec, std::size_t head_dim, std::size_t pos, const hparams& hp) {
  const std::size_t half = head_dim / 2;
  for (std::size_t i = 0; i < half; ++i) {
    const double freq = std::pow(static_cast<double>(hp.rope_theta),
                                 -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double angle = static_cast<double>(pos) * hp.rope_freq_scale * freq;
    const auto c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    // llama pairs neighbours (2i, 2i+1); neox/qwen2 pairs the two halves (i, i + half).
    const std::size_t a = hp.rope == rope_style::adjacent ? 2 * i : i;
    const std::size_t b = hp.rope == rope_style::adjacent ? 2 * i + 1 : i + half;
    const float v0 = vec[a], v1 = vec[b];
    vec[a] = v0 * c - v1 * s;
    vec[b] = v0 * s + v1 * c;
  }
}

} // namespace plain

reference_forward::reference_forward(std::shared_ptr<const model> m, std::size_t n_ctx)
    : model_(std::move(m)), n_ctx_(n_ctx) {
  const hparams& hp = model_->params();
  x_.resize(hp.n_embd);
  xb_.resize(hp.n_embd);
  q_.resize(hp.q_dim());
  att_out_.resize(hp.q_dim());
  scores_.resize(n_ctx_);
  hb_.resize(hp.n_ff);
  hb2_.resize(hp.n_ff);
  logits_.resize(hp.n_vocab);
  key_cache_.resize(static_cast<std::size_t>(hp.n_layer) * n_ctx_ * hp.kv_dim());
  value_cache_.resize(key_cache_.size());
}

result<std::span<const float>> reference_forward::forward(std::int32_t token, std::size_t pos) {
  const model& m = *model_;
  const hparams& hp = m.params();
  if (token < 0 || static_cast<std::uint32_t>(token) >= hp.n_vocab)
    return fail(errc::invalid_argument, fmt::format("token {} is outside the vocabulary", token));
  if (pos > n_past_) return fail(errc::invalid_argument, "position skips ahead of the cache");
  if (pos >= n_ctx_) return fail(errc::context_full, fmt::format("position {} >= n_ctx {}", pos, n_ctx_));

  const std::size_t dim = hp.n_embd, hd = hp.head_dim, kv_dim = hp.kv_dim();
  const std::size_t group = hp.n_head / hp.n_head_kv;  // query heads per kv head

  m.embed(token, x_.data());  // x(n_embd)

  for (std::size_t l = 0; l < hp.n_layer; ++l) {
    const layer_weights& w = m.layers()[l];
    float* k_row = key_cache_.data() + (l * n_ctx_ + pos) * kv_dim;    // (kv_dim) at pos
    float* v_row = value_cache_.data() + (l * n_ctx_ + pos) * kv_dim;  // (kv_dim) at pos

    // Attention: q, k, v projections (+ biases), RoPE on q and k.
    plain::rmsnorm(xb_.data(), x_.data(), w.attn_norm, dim, hp.rms_eps);
    plain::matvec(w.wq, xb_.data(), q_.data());
    plain::matvec(w.wk, xb_.data(), k_row);
    plain::matvec(w.wv, xb_.data(), v_row);
    if (w.bq != nullptr) {
      for (std::size_t i = 0; i < hp.q_dim(); ++i) q_[i] += w.bq[i];
      for (std::size_t i = 0; i < kv_dim; ++i) k_row[i] += w.bk[i];
      for (std::size_t i = 0; i < kv_dim; ++i) v_row[i] += w.bv[i];
    }
    for (std::size_t h = 0; h < hp.n_head; ++h) plain::rope(q_.data() + h * hd, hd, pos, hp);
    for (std::size_t h = 0; h < hp.n_head_kv; ++h) plain::rope(k_row + h * hd, hd, pos, hp);

    // Each query head attends over positions 0..pos of its kv head.
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (std::size_t h = 0; h < hp.n_head; ++h) {
      const float* q = q_.data() + h * hd;                    // (head_dim)
      const std::size_t kvh = h / group;
      for (std::size_t t = 0; t <= pos; ++t) {
        const float* k = key_cache_.data() + (l * n_ctx_ + t) * kv_dim + kvh * hd;  // (head_dim)
        double dot = 0;
        for (std::size_t i = 0; i < hd; ++i) dot += static_cast<double>(q[i]) * k[i];
        scores_[t] = static_cast<float>(dot) * scale;
      }
      plain::softmax(scores_.data(), pos + 1);
      float* out = att_out_.data() + h * hd;                 // (head_dim)
      std::fill(out, out + hd, 0.0f);
      for (std::size_t t = 0; t <= pos; ++t) {
        const float* v = value_cache_.data() + (l * n_ctx_ + t) * kv_dim + kvh * hd;
        for (std::size_t i = 0; i < hd; ++i) out[i] += scores_[t] * v[i];
      }
    }
    plain::matvec(w.wo, att_out_.data(), xb_.data());          // xb(n_embd)
    for (std::size_t i = 0; i < dim; ++i) x_[i] += xb_[i];    // residual

    // Feed-forward: down(silu(gate(x)) * up(x)).
    plain::rmsnorm(xb_.data(), x_.data(), w.ffn_norm, dim, hp.rms_eps);
    plain::matvec(w.w_gate, xb_.data(), hb_.data());           // hb(n_ff)
    plain::matvec(w.w_up, xb_.data(), hb2_.data());            // hb2(n_ff)
    for (std::size_t i = 0; i < hp.n_ff; ++i) {
      const float g = hb_[i];
      hb_[i] = g / (1.0f + std::exp(-g)) * hb2_[i];
    }
    plain::matvec(w.w_down, hb_.data(), xb_.data());           // xb(n_embd)
    for (std::size_t i = 0; i < dim; ++i) x_[i] += xb_[i];    // residual
  }

  plain::rmsnorm(x_.data(), x_.data(), m.output_norm(), dim, hp.rms_eps);
  plain::matvec(m.output(), x_.data(), logits_.data());       // logits(n_vocab)
  n_past_ = pos + 1;
  return std::span<const float>(logits_);
}

} // namespace troupe::inference
