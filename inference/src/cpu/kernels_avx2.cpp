// AVX2 + FMA + F16C kernels (compiled with those flags, called only after a CPUID check).
// Float weights: register tiles of up to 4 rows x 2 tokens (16 ymm registers). Q8_0/Q4_0:
// maddubs on 32-value blocks (sign trick for the signed x signed Q8_0 product).
#include <immintrin.h>

#include <algorithm>

#include "cpu/isa.hpp"
#include "troupe/inference/fp16.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::avx2 {

namespace {

struct load_f32 {
  static __m256 full(const std::uint8_t* row, std::size_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static float one(const std::uint8_t* row, std::size_t i) { return reinterpret_cast<const float*>(row)[i]; }
};
struct load_f16 {
  static __m256 full(const std::uint8_t* row, std::size_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  static float one(const std::uint8_t* row, std::size_t i) {
    return f16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[i]);
  }
};
struct load_bf16 {
  static __m256 full(const std::uint8_t* row, std::size_t i) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float one(const std::uint8_t* row, std::size_t i) {
    return bf16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[i]);
  }
};

float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

template <class L, int R, int T>
void micro_float(const std::uint8_t* w, std::size_t ws, const float* x, std::size_t xs, std::size_t k, float* y,
                 std::size_t ys) {
  __m256 acc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = L::full(w + r * ws, i);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * xs + i);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      float s = hsum8(acc[r][t]);
      for (std::size_t j = i; j < k; ++j) s += L::one(w + r * ws, j) * x[t * xs + j];
      y[t * ys + r] = s;
    }
}

template <class L, int R>
void micro_float_rows(int t_left, const std::uint8_t* w, std::size_t ws, const float* x, std::size_t xs,
                      std::size_t k, float* y, std::size_t ys) {
  if (t_left == 1) return micro_float<L, R, 1>(w, ws, x, xs, k, y, ys);
  return micro_float<L, R, 2>(w, ws, x, xs, k, y, ys);
}

template <class L>
void tile_float(const tile_args& a, const float* x, std::size_t xs) {
  for (std::size_t r = 0; r < a.n_rows; r += 4) {
    const int r_left = static_cast<int>(std::min<std::size_t>(4, a.n_rows - r));
    const std::uint8_t* w = a.w + r * a.w_stride;
    for (std::size_t t = 0; t < a.n_tok; t += 2) {
      const int t_left = static_cast<int>(std::min<std::size_t>(2, a.n_tok - t));
      float* y = a.y + t * a.y_stride + r;
      const float* xt = x + t * xs;
      switch (r_left) {
        case 1: micro_float_rows<L, 1>(t_left, w, a.w_stride, xt, xs, a.k, y, a.y_stride); break;
        case 2: micro_float_rows<L, 2>(t_left, w, a.w_stride, xt, xs, a.k, y, a.y_stride); break;
        case 3: micro_float_rows<L, 3>(t_left, w, a.w_stride, xt, xs, a.k, y, a.y_stride); break;
        default: micro_float_rows<L, 4>(t_left, w, a.w_stride, xt, xs, a.k, y, a.y_stride); break;
      }
    }
  }
}

// Integer dot of one 32-value weight block with 32 int8 activations, as 8 int32 lanes.
struct dot_q8_0 {
  using block = block_q8_0;
  static __m256i weights(const block& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
  // maddubs needs an unsigned operand: |x| with x's sign moved onto w.
  static __m256i dot(__m256i w, __m256i xq, std::int32_t) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(xq, xq), _mm256_sign_epi8(w, xq));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};
struct dot_q4_0 {
  using block = block_q4_0;
  static __m256i weights(const block& b) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i m = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
  }
  // Nibbles are 0..15 (unsigned); subtract 8 * sum(x) spread over the 8 lanes.
  static __m256i dot(__m256i u, __m256i xq, std::int32_t sum) {
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, xq), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(p, _mm256_set1_epi32(sum));
  }
};

template <class D, int R>
void micro_int(const tile_args& a, std::size_t r0, std::size_t t, const act_q8& x) {
  using block = typename D::block;
  const std::size_t nb = a.k / 32;
  const block* w[R];
  __m256 acc[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    w[r] = reinterpret_cast<const block*>(a.w + (r0 + r) * a.w_stride);
    acc[r] = _mm256_setzero_ps();
  }
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t tb = t * nb + b;
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * tb));
    const float dx = x.d[tb];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256i dot = D::dot(D::weights(w[r][b]), xq, x.sum[tb]);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(_cvtsh_ss(w[r][b].d) * dx), acc[r]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) a.y[t * a.y_stride + r0 + r] = hsum8(acc[r]);
}

template <class D>
void tile_int(const tile_args& a, const act_q8& x) {
  for (std::size_t r = 0; r < a.n_rows; r += 4) {
    const std::size_t r_left = std::min<std::size_t>(4, a.n_rows - r);
    for (std::size_t t = 0; t < a.n_tok; ++t) {
      switch (r_left) {
        case 1: micro_int<D, 1>(a, r, t, x); break;
        case 2: micro_int<D, 2>(a, r, t, x); break;
        case 3: micro_int<D, 3>(a, r, t, x); break;
        default: micro_int<D, 4>(a, r, t, x); break;
      }
    }
  }
}

} // namespace


void tile_f32(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f32>(a, x, s); }
void tile_f16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f16>(a, x, s); }
void tile_bf16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_bf16>(a, x, s); }
void tile_q8_0(const tile_args& a, const act_q8& x) { tile_int<dot_q8_0>(a, x); }
void tile_q4_0(const tile_args& a, const act_q8& x) { tile_int<dot_q4_0>(a, x); }

namespace {
std::int32_t hsum_epi32(__m256i s) {
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
  return _mm_cvtsi128_si32(s4);
}
} // namespace

void quantize_act(const float* x, std::size_t n_blocks, std::int8_t* qs, float* d, std::int32_t* sum,
                  std::int32_t* sum16) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (std::size_t b = 0; b < n_blocks; ++b, x += 32, qs += 32) {
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      m = _mm256_max_ps(m, _mm256_and_ps(v[i], abs_mask));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    d[b] = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));  // nearest even
    sum16[2 * b] = hsum_epi32(_mm256_add_epi32(q[0], q[1]));
    sum16[2 * b + 1] = hsum_epi32(_mm256_add_epi32(q[2], q[3]));
    sum[b] = sum16[2 * b] + sum16[2 * b + 1];
    // Pack 32 int32 to int8 (values fit), then undo the lane interleaving of the packs.
    const __m256i p16 = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p8 = _mm256_packs_epi16(p16, p16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), ordered);
  }
}

// The k-quant expansion is the portable loop compiled for AVX2 (the compiler vectorises
// the inner loops); matmul then runs the rows as F32.
void dequantize_q4_k(const void* src, float* dst, std::size_t n) { scalar::dequantize_q4_k(src, dst, n); }
void dequantize_q6_k(const void* src, float* dst, std::size_t n) { scalar::dequantize_q6_k(src, dst, n); }

} // namespace troupe::inference::avx2
