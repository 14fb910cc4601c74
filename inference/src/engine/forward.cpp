// context::compute: one pass of the fast forward pass over the tokens of a batch (any mix of
// sequences). Weight products are matrix-matrix over all tokens; attention runs per (token,
// kv head) in parallel over the paged cache (engine/attention.cpp).
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "engine/attention.hpp"
#include "engine/kv_cache.hpp"
#include "engine/token_info.hpp"
#include "troupe/inference/matmul.hpp"
#include "troupe/inference/ops.hpp"
#include "troupe/inference/thread_pool.hpp"

namespace troupe::inference {

namespace {

/// RoPE over x(n_heads, head_dim) at `pos`; with linear scaling the position is fractional,
/// which ops.hpp's rope (integer positions) does not take, so that rare case is done here.
void rope_at(float* x, std::size_t n_heads, std::size_t pos, const hparams& hp) {
  const std::size_t hd = hp.head_dim, half = hd / 2;
  if (hp.rope_freq_scale == 1.0f) {
    rope(x, n_heads, hd, pos, hp.rope_theta, hp.rope);
    return;
  }
  const float p = static_cast<float>(pos) * hp.rope_freq_scale;
  for (std::size_t h = 0; h < n_heads; ++h)
    for (std::size_t i = 0; i < half; ++i) {
      const float angle = p * std::pow(hp.rope_theta, -2.0f * static_cast<float>(i) / static_cast<float>(hd));
      const float c = std::cos(angle), s = std::sin(angle);
      float* v = x + h * hd;
      const std::size_t a = hp.rope == rope_style::adjacent ? 2 * i : i;
      const std::size_t b = hp.rope == rope_style::adjacent ? 2 * i + 1 : i + half;
      const float v0 = v[a], v1 = v[b];
      v[a] = v0 * c - v1 * s;
      v[b] = v0 * s + v1 * c;
    }
}

/// cos and sin of every token's RoPE angles, which are the same in every layer: computed once
/// per pass exactly as ops.hpp's rope computes them (angles in double, rounded to float), so
/// apply() gives rope's results without its 2 * head_dim / 2 cos and sin per layer.
struct rope_table {
  std::vector<float> cs;  // (T, head_dim / 2, 2): cos, sin

  template <class Tokens>  // a span of context::token_info (private to context)
  void fill(const Tokens& toks, const hparams& hp) {
    const std::size_t hd = hp.head_dim, half = hd / 2;
    cs.resize(toks.size() * half * 2);
    for (std::size_t t = 0; t < toks.size(); ++t)
      for (std::size_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(toks[t].pos) *
                             std::pow(static_cast<double>(hp.rope_theta), -2.0 * static_cast<double>(i) / static_cast<double>(hd));
        cs[(t * half + i) * 2] = static_cast<float>(std::cos(angle));
        cs[(t * half + i) * 2 + 1] = static_cast<float>(std::sin(angle));
      }
  }

  /// RoPE of token t over x(n_heads, head_dim).
  void apply(float* x, std::size_t n_heads, std::size_t t, const hparams& hp) const {
    const std::size_t hd = hp.head_dim, half = hd / 2;
    const float* tc = cs.data() + t * half * 2;
    for (std::size_t i = 0; i < half; ++i) {
      const float c = tc[2 * i], s = tc[2 * i + 1];
      const std::size_t i0 = hp.rope == rope_style::adjacent ? 2 * i : i;
      const std::size_t i1 = hp.rope == rope_style::adjacent ? 2 * i + 1 : i + half;
      for (std::size_t h = 0; h < n_heads; ++h) {
        float* v = x + h * hd;
        const float a = v[i0], b = v[i1];
        v[i0] = a * c - b * s;
        v[i1] = a * s + b * c;
      }
    }
  }
};

void add_bias(float* rows, const float* bias, std::size_t n_rows, std::size_t width) {
  for (std::size_t r = 0; r < n_rows; ++r)
    for (std::size_t i = 0; i < width; ++i) rows[r * width + i] += bias[i];
}

} // namespace

void context::compute(std::span<const token_info> toks, float* logits_out) {
  const model& m = *model_;
  const hparams& hp = m.params();
  const std::size_t T = toks.size(), dim = hp.n_embd, q_dim = hp.q_dim(), kv_dim = hp.kv_dim();
  const std::size_t ff = hp.n_ff;
  thread_pool& pool = *pool_;

  // Activations of this pass, one row per token.
  std::vector<float> x(T * dim);     // (T, n_embd) residual stream
  std::vector<float> xb(T * dim);    // (T, n_embd) normalised input / sub-block output
  std::vector<float> q(T * q_dim);   // (T, n_head * head_dim)
  std::vector<float> k(T * kv_dim);  // (T, n_head_kv * head_dim)
  std::vector<float> v(T * kv_dim);  // (T, n_head_kv * head_dim)
  std::vector<float> att(T * q_dim); // (T, n_head * head_dim) attention output
  std::vector<float> hb(T * ff);     // (T, n_ff) gate, then swiglu
  std::vector<float> hb2(T * ff);    // (T, n_ff) up
  const std::size_t group = hp.n_head / hp.n_head_kv;
  std::vector<float> scores(pool.size() * group * n_ctx_);  // (threads, group, n_ctx) attention scores

  // Decode (too few tokens for one task per (token, kv head) to keep the threads busy, F16
  // cache): each token's positions are split into parts, every part covering all heads,
  // merged after. Otherwise one task per (token, kv head).
  const bool split = cache_->pool().kv_type() == tensor_type::f16 && T * hp.n_head_kv < 4 * pool.size();
  const std::size_t parts_wanted = std::min(max_attend_parts, (2 * pool.size() + T - 1) / T);
  std::vector<std::size_t> part_bounds;  // token t's parts: [part_bounds[t * (parts_wanted + 1) + i], ... + i + 1)
  std::vector<float> part_out, part_stats, part_scores;
  if (split) {
    part_bounds.resize(T * (parts_wanted + 1));
    std::size_t max_len = 0;
    for (std::size_t t = 0; t < T; ++t) {
      // Even parts of at least min_part positions (up to parts_wanted; unused parts are empty),
      // cut by position only, so the arithmetic does not depend on the cache's block size.
      constexpr std::size_t min_part = 16;
      const std::size_t n = toks[t].pos + 1, used = std::clamp<std::size_t>(n / min_part, 1, parts_wanted);
      std::size_t* b = part_bounds.data() + t * (parts_wanted + 1);
      for (std::size_t i = 0; i <= parts_wanted; ++i) {
        b[i] = n * std::min(i, used) / used;
        if (i > 0) max_len = std::max(max_len, b[i] - b[i - 1]);
      }
    }
    part_out.resize(T * parts_wanted * q_dim);
    part_stats.resize(T * parts_wanted * 2 * hp.n_head);
    part_scores.resize(T * parts_wanted * hp.n_head * max_len);
  }

  for (std::size_t t = 0; t < T; ++t) m.embed(toks[t].token, x.data() + t * dim);
  rope_table rope_cs;
  const bool use_table = hp.rope_freq_scale == 1.0f;
  if (use_table) rope_cs.fill(toks, hp);

  // One token (decode): while this thread runs the single-threaded steps between two weight
  // products (or finishes its last piece of one, or of attention), the workers read the start
  // of their part of the next product (warm_one_token). Asked for right before the pool call
  // that precedes that product, so that the workers read from the end of that call on.
  const auto warm_after_next_call = [&](std::initializer_list<const weight_view*> ws) {
    if (T == 1) warm_one_token(ws, pool, 2);
  };
  if (T == 1) warm_one_token({&m.layers()[0].wq, &m.layers()[0].wk, &m.layers()[0].wv}, pool, 1);
  for (std::size_t l = 0; l < hp.n_layer; ++l) {
    const layer_weights& w = m.layers()[l];
    for (std::size_t t = 0; t < T; ++t)
      rmsnorm(xb.data() + t * dim, x.data() + t * dim, w.attn_norm, dim, hp.rms_eps);
    matmul_many({{&w.wq, q.data()}, {&w.wk, k.data()}, {&w.wv, v.data()}}, xb.data(), T, &pool);
    warm_after_next_call({&w.wo});  // the next call: attention
    if (w.bq != nullptr) {
      add_bias(q.data(), w.bq, T, q_dim);
      add_bias(k.data(), w.bk, T, kv_dim);
      add_bias(v.data(), w.bv, T, kv_dim);
    }
    for (std::size_t t = 0; t < T; ++t) {
      if (use_table) {
        rope_cs.apply(q.data() + t * q_dim, hp.n_head, t, hp);
        rope_cs.apply(k.data() + t * kv_dim, hp.n_head_kv, t, hp);
      } else {
        rope_at(q.data() + t * q_dim, hp.n_head, toks[t].pos, hp);
        rope_at(k.data() + t * kv_dim, hp.n_head_kv, toks[t].pos, hp);
      }
      store_kv(*cache_, l, toks[t].slot, toks[t].pos, k.data() + t * kv_dim, v.data() + t * kv_dim, kv_dim);
    }
    if (split) {
      pool.parallel_for(T * parts_wanted, [&](std::size_t item, std::size_t) {
        const std::size_t t = item / parts_wanted, i = item % parts_wanted;
        const std::size_t* b = part_bounds.data() + t * (parts_wanted + 1);
        if (b[i] == b[i + 1]) return;
        attend_part(*cache_, l, toks[t].slot, b[i], b[i + 1], hp, q.data() + t * q_dim, part_out.data() + item * q_dim,
                    part_stats.data() + item * 2 * hp.n_head, part_scores.data() + item * (part_scores.size() / (T * parts_wanted)));
      });
      for (std::size_t t = 0; t < T; ++t) {
        const std::size_t* b = part_bounds.data() + t * (parts_wanted + 1);
        std::size_t used = 0;
        while (used < parts_wanted && b[used] != b[used + 1]) ++used;
        merge_parts(part_out.data() + t * parts_wanted * q_dim, part_stats.data() + t * parts_wanted * 2 * hp.n_head, used,
                    hp, att.data() + t * q_dim);
      }
    } else {
      pool.parallel_for(T * hp.n_head_kv, [&](std::size_t item, std::size_t thread) {
        const std::size_t t = item / hp.n_head_kv, g = item % hp.n_head_kv;
        attend(*cache_, l, toks[t].slot, toks[t].pos, g, hp, q.data() + t * q_dim,
               att.data() + t * q_dim, scores.data() + thread * group * n_ctx_);
      });
    }
    warm_after_next_call({&w.w_gate, &w.w_up});
    matmul(w.wo, att.data(), T, xb.data(), &pool);
    add(x.data(), x.data(), xb.data(), T * dim);

    for (std::size_t t = 0; t < T; ++t)
      rmsnorm(xb.data() + t * dim, x.data() + t * dim, w.ffn_norm, dim, hp.rms_eps);
    warm_after_next_call({&w.w_down});
    matmul_many({{&w.w_gate, hb.data()}, {&w.w_up, hb2.data()}}, xb.data(), T, &pool);
    swiglu(hb.data(), hb.data(), hb2.data(), T * ff);
    if (l + 1 < hp.n_layer) {
      const layer_weights& next = m.layers()[l + 1];
      warm_after_next_call({&next.wq, &next.wk, &next.wv});
    } else {
      warm_after_next_call({&m.output()});
    }
    matmul(w.w_down, hb.data(), T, xb.data(), &pool);
    add(x.data(), x.data(), xb.data(), T * dim);
  }

  // Logits only for the tokens that want them.
  std::size_t n_out = 0;
  for (std::size_t t = 0; t < T; ++t) {
    if (!toks[t].want_logits) continue;
    rmsnorm(xb.data() + n_out * dim, x.data() + t * dim, m.output_norm(), dim, hp.rms_eps);
    ++n_out;
  }
  if (n_out > 0) matmul(m.output(), xb.data(), n_out, logits_out, &pool);
}

} // namespace troupe::inference
