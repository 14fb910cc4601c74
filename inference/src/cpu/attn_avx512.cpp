// Decode attention over F16 key/value rows with AVX-512 (called only after a CPUID check):
// the scores of up to 4 query heads per pass over the keys, and their weighted sum of values
// with the accumulators held in registers across positions (ops.hpp: attn_scores_f16,
// attn_values_f16). GCC 12's AVX-512 intrinsics trip -Wuninitialized when inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "cpu/ops_isa.hpp"

namespace troupe::inference::avx512 {

namespace {

// Rows ahead of the current one that the loops prefetch (a prefetch past the end is harmless).
constexpr std::size_t prefetch_rows = 8;

inline __mmask16 chunk_mask(std::size_t left) {
  return static_cast<__mmask16>(left >= 16 ? 0xffffu : (1u << left) - 1u);
}

// NQ heads at once: each key row is widened once per 16 values and used for every head.
template <int NQ>
void scores_nq(const std::uint16_t* keys, std::size_t ks, std::size_t n, const float* q, std::size_t hd,
               float scale, float* scores, std::size_t ss) {
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint16_t* k = keys + j * ks;
    // The cache rows come from memory (the weights streamed since evicted them) and are
    // strided (the other kv heads sit between): fetch a few rows ahead.
    _mm_prefetch(reinterpret_cast<const char*>(k + prefetch_rows * ks), _MM_HINT_T0);
    if (hd > 32) _mm_prefetch(reinterpret_cast<const char*>(k + prefetch_rows * ks + 32), _MM_HINT_T0);
    __m512 acc[NQ];
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) acc[i] = _mm512_setzero_ps();
    for (std::size_t c = 0; c < hd; c += 16) {
      const __mmask16 m = chunk_mask(hd - c);
      const __m512 kv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + c));
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) acc[i] = _mm512_fmadd_ps(kv, _mm512_maskz_loadu_ps(m, q + i * hd + c), acc[i]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) scores[i * ss + j] = _mm512_reduce_add_ps(acc[i]) * scale;
  }
}

// The horizontal sums of a, b, c, d in lanes 0, 4, 8, 12, each added in exactly the order
// of _mm512_reduce_add_ps (GCC: high 256 + low 256, high 128 + low 128, then the pairs {0, 2}
// and {1, 3}, then those two), with the shuffles shared by the four.
inline __m512 reduce_add4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0xEE), _mm512_shuffle_f32x4(a, b, 0x44));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0xEE), _mm512_shuffle_f32x4(c, d, 0x44));
  const __m512 t6 = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0xDD), _mm512_shuffle_f32x4(ab, cd, 0x88));
  const __m512 t8 = _mm512_add_ps(t6, _mm512_permute_ps(t6, 0x4E));
  return _mm512_add_ps(t8, _mm512_permute_ps(t8, 0xB1));
}

// scores_nq four positions at a time: each head's query chunk loaded once for the four rows,
// and the four sums of a head reduced together (reduce_add4); the same arithmetic per score.
template <int NQ>
void scores_nq4(const std::uint16_t* keys, std::size_t ks, std::size_t n, const float* q, std::size_t hd,
                float scale, float* scores, std::size_t ss) {
  std::size_t j = 0;
  const __m512 vscale = _mm512_set1_ps(scale);
  for (; j + 4 <= n; j += 4) {
    const std::uint16_t* k = keys + j * ks;
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(k + (prefetch_rows + r) * ks), _MM_HINT_T0);
      if (hd > 32) _mm_prefetch(reinterpret_cast<const char*>(k + (prefetch_rows + r) * ks + 32), _MM_HINT_T0);
    }
    __m512 acc[NQ][4];
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_setzero_ps();
    for (std::size_t c = 0; c < hd; c += 16) {
      const __mmask16 m = chunk_mask(hd - c);
      __m512 kv[4];
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) kv[r] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, k + r * ks + c));
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) {
        const __m512 qi = _mm512_maskz_loadu_ps(m, q + i * hd + c);
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) acc[i][r] = _mm512_fmadd_ps(kv[r], qi, acc[i][r]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) {
      const __m512 sums = reduce_add4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      _mm_storeu_ps(scores + i * ss + j, _mm_mul_ps(_mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, sums)),
                                                    _mm512_castps512_ps128(vscale)));
    }
  }
  if (j < n) scores_nq<NQ>(keys + j * ks, ks, n - j, q, hd, scale, scores + j, ss);
}

template <int NQ>
void values_nq(const std::uint16_t* values, std::size_t vs, std::size_t n, const float* p, std::size_t ps,
               std::size_t hd, float* out) {
  for (std::size_t c = 0; c < hd; c += 16) {
    const __mmask16 m = chunk_mask(hd - c);
    __m512 acc[NQ];
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) acc[i] = _mm512_maskz_loadu_ps(m, out + i * hd + c);
    for (std::size_t j = 0; j < n; ++j) {
      if (c == 0) {
        _mm_prefetch(reinterpret_cast<const char*>(values + (j + prefetch_rows) * vs), _MM_HINT_T0);
        if (hd > 32) _mm_prefetch(reinterpret_cast<const char*>(values + (j + prefetch_rows) * vs + 32), _MM_HINT_T0);
      }
      const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, values + j * vs + c));
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j]), v, acc[i]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) _mm512_mask_storeu_ps(out + i * hd + c, m, acc[i]);
  }
}

} // namespace

void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride) {
  for (std::size_t i = 0; i < n_q; i += 4) {
    const float* qi = q + i * hd;
    float* si = scores + i * scores_stride;
    switch (std::min<std::size_t>(4, n_q - i)) {
      case 1: scores_nq4<1>(keys, key_stride, n, qi, hd, scale, si, scores_stride); break;
      case 2: scores_nq4<2>(keys, key_stride, n, qi, hd, scale, si, scores_stride); break;
      case 3: scores_nq4<3>(keys, key_stride, n, qi, hd, scale, si, scores_stride); break;
      default: scores_nq4<4>(keys, key_stride, n, qi, hd, scale, si, scores_stride); break;
    }
  }
}

namespace {

// head_dim <= 64: all C chunks of NQ heads' outputs held in registers over the positions, so
// each position's row is read once and the C * NQ accumulator chains are independent (one
// chunk at a time, the chain of each accumulator waits on the FMA latency at every
// position). The same FMAs in the same order per output element as values_nq.
template <int NQ, int C>
void values_nq_c(const std::uint16_t* values, std::size_t vs, std::size_t n, const float* p, std::size_t ps,
                 std::size_t hd, float* out) {
  __mmask16 m[C];
  __m512 acc[NQ][C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) {
    m[c] = chunk_mask(hd - 16 * c);
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) acc[i][c] = _mm512_maskz_loadu_ps(m[c], out + i * hd + 16 * c);
  }
  for (std::size_t j = 0; j < n; ++j) {
    _mm_prefetch(reinterpret_cast<const char*>(values + (j + prefetch_rows) * vs), _MM_HINT_T0);
    if (hd > 32) _mm_prefetch(reinterpret_cast<const char*>(values + (j + prefetch_rows) * vs + 32), _MM_HINT_T0);
    __m512 pj[NQ];
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) pj[i] = _mm512_set1_ps(p[i * ps + j]);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[c], values + j * vs + 16 * c));
#pragma GCC unroll 4
      for (int i = 0; i < NQ; ++i) acc[i][c] = _mm512_fmadd_ps(pj[i], v, acc[i][c]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
    for (int i = 0; i < NQ; ++i) _mm512_mask_storeu_ps(out + i * hd + 16 * c, m[c], acc[i][c]);
}

template <int NQ>
void values_nq_any(const std::uint16_t* values, std::size_t vs, std::size_t n, const float* p, std::size_t ps,
                   std::size_t hd, float* out) {
  switch ((hd + 15) / 16) {
    case 1: return values_nq_c<NQ, 1>(values, vs, n, p, ps, hd, out);
    case 2: return values_nq_c<NQ, 2>(values, vs, n, p, ps, hd, out);
    case 3: return values_nq_c<NQ, 3>(values, vs, n, p, ps, hd, out);
    case 4: return values_nq_c<NQ, 4>(values, vs, n, p, ps, hd, out);
    default: return values_nq<NQ>(values, vs, n, p, ps, hd, out);
  }
}

} // namespace

void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out) {
  for (std::size_t i = 0; i < n_q; i += 4) {
    const float* pi = p + i * p_stride;
    float* oi = out + i * hd;
    switch (std::min<std::size_t>(4, n_q - i)) {
      case 1: values_nq_any<1>(values, value_stride, n, pi, p_stride, hd, oi); break;
      case 2: values_nq_any<2>(values, value_stride, n, pi, p_stride, hd, oi); break;
      case 3: values_nq_any<3>(values, value_stride, n, pi, p_stride, hd, oi); break;
      default: values_nq_any<4>(values, value_stride, n, pi, p_stride, hd, oi); break;
    }
  }
}

} // namespace troupe::inference::avx512
