#include "engine/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "troupe/inference/fp16.hpp"
#include "troupe/inference/ops.hpp"

namespace troupe::inference {

namespace {

// The block loops of attend() for each cache type, with the signatures of ops.hpp's
// attn_scores_f16 / attn_values_f16 (the F16 ones, SIMD where the CPU has it). An F32 cache
// (context_params::kv_type, for the closest comparisons with a reference) takes plain loops:
// eight partial sums per dot product, vectorisable without reassociating one long chain.
void scores_rows(const float* keys, std::size_t key_stride, std::size_t n, const float* q, std::size_t n_q,
                 std::size_t hd, float scale, float* scores, std::size_t scores_stride) {
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) {
      const float* k = keys + j * key_stride;
      const float* qi = q + i * hd;
      float s[8] = {};
      std::size_t d = 0;
      for (; d + 8 <= hd; d += 8)
        for (std::size_t e = 0; e < 8; ++e) s[e] += k[d + e] * qi[d + e];
      float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
      for (; d < hd; ++d) r += k[d] * qi[d];
      scores[i * scores_stride + j] = r * scale;
    }
}
void values_rows(const float* values, std::size_t value_stride, std::size_t n, const float* p, std::size_t p_stride,
                 std::size_t n_q, std::size_t hd, float* out) {
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) axpy(out + i * hd, p[i * p_stride + j], values + j * value_stride, hd);
}
void scores_rows(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q, std::size_t n_q,
                 std::size_t hd, float scale, float* scores, std::size_t scores_stride) {
  attn_scores_f16(keys, key_stride, n, q, n_q, hd, scale, scores, scores_stride);
}
void values_rows(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                 std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out) {
  attn_values_f16(values, value_stride, n, p, p_stride, n_q, hd, out);
}

// The key rows of each block against all query heads of group g at once, then the value rows
// into all of their outputs: each row is read once for the whole group (GQA).
template <class T>
void attend_blocks(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t pos, std::size_t g,
                   const hparams& hp, const float* q_tok, float* out_tok, float* scores) {
  block_pool& pool = cache.pool();
  const auto table = cache.table(slot);
  const std::size_t hd = hp.head_dim, n = pos + 1, bt = cache.block_tokens(), kv_dim = hp.kv_dim();
  const std::size_t group = hp.n_head / hp.n_head_kv, h0 = g * group;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (std::size_t j0 = 0, blk = 0; j0 < n; j0 += bt, ++blk) {
    const T* keys = reinterpret_cast<const T*>(pool.key(table[blk], layer)) + g * hd;  // (bt, kv_dim)
    scores_rows(keys, kv_dim, std::min(bt, n - j0), q_tok + h0 * hd, group, hd, scale, scores + j0, n);
  }
  for (std::size_t i = 0; i < group; ++i) softmax(scores + i * n, n);
  std::fill(out_tok + h0 * hd, out_tok + (h0 + group) * hd, 0.0f);
  for (std::size_t j0 = 0, blk = 0; j0 < n; j0 += bt, ++blk) {
    const T* values = reinterpret_cast<const T*>(pool.value(table[blk], layer)) + g * hd;  // (bt, kv_dim)
    values_rows(values, kv_dim, std::min(bt, n - j0), scores + j0, n, group, hd, out_tok + h0 * hd);
  }
}

} // namespace

void store_kv(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t pos, const float* k,
              const float* v, std::size_t kv_dim) {
  std::byte* kd = cache.key_at(slot, layer, pos);
  std::byte* vd = cache.value_at(slot, layer, pos);
  if (cache.pool().kv_type() == tensor_type::f32) {
    std::memcpy(kd, k, kv_dim * sizeof(float));
    std::memcpy(vd, v, kv_dim * sizeof(float));
  } else {
    f32_to_f16_row(k, reinterpret_cast<std::uint16_t*>(kd), kv_dim);
    f32_to_f16_row(v, reinterpret_cast<std::uint16_t*>(vd), kv_dim);
  }
}

void attend(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t pos, std::size_t g,
            const hparams& hp, const float* q_tok, float* out_tok, float* scores) {
  if (cache.pool().kv_type() == tensor_type::f32)
    attend_blocks<float>(cache, layer, slot, pos, g, hp, q_tok, out_tok, scores);
  else
    attend_blocks<std::uint16_t>(cache, layer, slot, pos, g, hp, q_tok, out_tok, scores);
}

void attend_part(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t j_begin, std::size_t j_end,
                 const hparams& hp, const float* q_tok, float* out_part, float* stats, float* scores) {
  block_pool& pool = cache.pool();
  const auto table = cache.table(slot);
  const std::size_t hd = hp.head_dim, n = j_end - j_begin, bt = cache.block_tokens(), kv_dim = hp.kv_dim();
  const std::size_t group = hp.n_head / hp.n_head_kv, row_bytes = kv_dim * sizeof(std::uint16_t);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  constexpr std::size_t lookahead_rows = 8;
  // The part's rows come from memory (the weights streamed since evicted them). Each block's
  // rows are read four at a time for every kv head (one pass over the block, not one per kv
  // head), with the keys eight rows ahead and the values of the rows at hand asked for as it
  // goes, so that memory and arithmetic overlap; only the first rows of each block are asked
  // for up front, into L2. SmolLM-360M Q8_0 decode, per-token A/B against one pass per kv head
  // with all of the part's rows asked for up front: attention 6-13% faster. (A prefetch loop
  // over all rows mostly goes nowhere: the CPU drops prefetches beyond the few misses it tracks.)
  for (std::size_t j = j_begin; j < j_end;) {
    const std::size_t blk = j / bt, off = j % bt, m = std::min({bt - off, j_end - j, lookahead_rows});
    const auto* k = reinterpret_cast<const char*>(pool.key(table[blk], layer)) + off * row_bytes;
    for (std::size_t b = 0; b < m * row_bytes; b += 64) __builtin_prefetch(k + b, 0, 1);
    j += std::min(bt - off, j_end - j);
  }
  // Scores of head h at scores[h * n ..], four rows per call: the row groups (and so the
  // arithmetic) attn_scores_f16 forms over a whole block.
  for (std::size_t j = j_begin; j < j_end;) {
    const std::size_t blk = j / bt, off = j % bt, m = std::min(bt - off, j_end - j);
    const auto* keys = reinterpret_cast<const std::uint16_t*>(pool.key(table[blk], layer)) + off * kv_dim;
    const auto* values = reinterpret_cast<const char*>(pool.value(table[blk], layer)) + off * row_bytes;
    for (std::size_t r = 0; r < m; r += 4) {
      const std::size_t rows = std::min<std::size_t>(4, m - r);
      if (r + lookahead_rows < m) {
        const auto* ahead = reinterpret_cast<const char*>(keys + (r + lookahead_rows) * kv_dim);
        for (std::size_t b = 0; b < std::min<std::size_t>(4, m - r - lookahead_rows) * row_bytes; b += 64)
          __builtin_prefetch(ahead + b, 0, 3);
      }
      for (std::size_t b = 0; b < rows * row_bytes; b += 64) __builtin_prefetch(values + r * row_bytes + b, 0, 2);
      for (std::size_t g = 0; g < hp.n_head_kv; ++g)
        attn_scores_f16(keys + r * kv_dim + g * hd, kv_dim, rows, q_tok + g * group * hd, group, hd, scale,
                        scores + g * group * n + (j + r - j_begin), n);
    }
    j += m;
  }
  for (std::size_t h = 0; h < hp.n_head; ++h) {
    const softmax_stats st = softmax(scores + h * n, n);
    stats[2 * h] = st.max;
    stats[2 * h + 1] = st.inv_sum;
  }
  std::fill(out_part, out_part + hp.n_head * hd, 0.0f);
  for (std::size_t j = j_begin; j < j_end;) {
    const std::size_t blk = j / bt, off = j % bt, m = std::min(bt - off, j_end - j);
    const auto* values = reinterpret_cast<const std::uint16_t*>(pool.value(table[blk], layer)) + off * kv_dim;
    for (std::size_t g = 0; g < hp.n_head_kv; ++g)
      attn_values_f16(values + g * hd, kv_dim, m, scores + g * group * n + (j - j_begin), n, group, hd,
                      out_part + g * group * hd);
    j += m;
  }
}

void merge_parts(const float* out_parts, const float* stats, std::size_t n_parts, const hparams& hp, float* out_tok) {
  const std::size_t hd = hp.head_dim, stride = hp.n_head * hd;
  for (std::size_t h = 0; h < hp.n_head; ++h) {
    float mx = stats[2 * h];
    for (std::size_t p = 1; p < n_parts; ++p) mx = std::max(mx, stats[p * 2 * hp.n_head + 2 * h]);
    // Part p's softmax has the denominator 1 / w_p over its own maximum m_p; over all
    // positions its weights scale by exp(m_p - max) * (1 / w_p) / sum of those.
    float c[max_attend_parts];
    float total = 0.0f;
    const std::size_t np = std::min(n_parts, max_attend_parts);
    for (std::size_t p = 0; p < np; ++p) {
      const float* st = stats + p * 2 * hp.n_head + 2 * h;
      c[p] = std::exp(st[0] - mx) / st[1];
      total += c[p];
    }
    float* o = out_tok + h * hd;
    std::fill(o, o + hd, 0.0f);
    for (std::size_t p = 0; p < np; ++p) axpy(o, c[p] / total, out_parts + p * stride + h * hd, hd);
  }
}

} // namespace troupe::inference
