// AVX2 dot products of Q4_K / Q6_K weights with int8 activations quantized in super-blocks
// of 256 sharing one scale (llama.cpp's Q8_K rounding; see matmul.cpp). Each 32-value block
// meets its activations in one maddubs (unsigned weight bytes: Q4_K nibbles 0..15, Q6_K
// 6-bit values 0..63, times signed int8) and one madd with the block's integer scale, so a
// whole super-block accumulates in int32 and is converted to float once. The offsets (Q4_K's
// mins, Q6_K's -32) come from the activation block sums. Compiled with AVX2/FMA/F16C flags,
// called only after a CPUID check.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/isa.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::avx2 {

namespace {

float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

std::int32_t hsum8_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// The eight 6-bit scales and mins of a Q4_K super-block, as bytes (layout in quant.hpp).
void q4_k_scales(const std::uint8_t* s, std::uint8_t sc[8], std::uint8_t m[8]) {
  std::uint32_t a = 0, b = 0, c = 0;
  std::memcpy(&a, s, 4);
  std::memcpy(&b, s + 4, 4);
  std::memcpy(&c, s + 8, 4);
  const std::uint32_t sc_lo = a & 0x3f3f3f3fu, m_lo = b & 0x3f3f3f3fu;
  const std::uint32_t sc_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
  const std::uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(m, &m_lo, 4);
  std::memcpy(m + 4, &m_hi, 4);
}

__m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// sum over the block of u * x, weighted per half (16 values) by the int16 scales in `sc`.
__m256i block_dot(__m256i u, __m256i xq, __m256i sc) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, xq), sc); }

// R rows x T tokens of Q4_K. Per super-block: y += dx * (d * sum_j sc_j dot_j - dmin * sum_j
// m_j sum_j), dx the super-block's activation scale (all 8 blocks share it).
template <int R, int T>
void micro_q4_k(const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  const std::size_t nsb = a.k / qk_k, nb = a.k / 32;
  const __m256i low4 = _mm256_set1_epi8(15);
  __m256 acc[R][T];
  float acc_min[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      acc_min[r][t] = 0.0f;
    }
  for (std::size_t sb = 0; sb < nsb; ++sb) {
    for (int r = 0; r < R; ++r) {
      const auto& b = reinterpret_cast<const block_q4_k*>(a.w + (r0 + r) * a.w_stride)[sb];
      std::uint8_t sc[8], m[8];
      q4_k_scales(b.scales, sc, m);
      const float d = _cvtsh_ss(b.d), dmin = _cvtsh_ss(b.dmin);
      std::uint64_t m64 = 0;
      std::memcpy(&m64, m, 8);
      const __m256i mins = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(m64)));
      __m256i isum[T];
      for (int t = 0; t < T; ++t) {
        const std::size_t tb = (t0 + t) * nb + sb * 8;
        const std::int32_t msum = hsum8_epi32(_mm256_mullo_epi32(mins, load32(x.sum + tb)));
        acc_min[r][t] += dmin * x.d[tb] * static_cast<float>(msum);
        isum[t] = _mm256_setzero_si256();
      }
      for (int c = 0; c < 4; ++c) {  // values 64c..64c+63: block 2c (low nibbles), 2c+1 (high)
        const __m256i q = load32(b.qs + 32 * c);
        const __m256i lo = _mm256_and_si256(q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        const __m256i sc_lo = _mm256_set1_epi16(sc[2 * c]), sc_hi = _mm256_set1_epi16(sc[2 * c + 1]);
        for (int t = 0; t < T; ++t) {
          const std::int8_t* xq = x.qs + 32 * ((t0 + t) * nb + sb * 8 + 2 * c);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(block_dot(lo, load32(xq), sc_lo),
                                                               block_dot(hi, load32(xq + 32), sc_hi)));
        }
      }
      for (int t = 0; t < T; ++t) {
        const float dx = x.d[(t0 + t) * nb + sb * 8];
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * dx), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) a.y[(t0 + t) * a.y_stride + r0 + r] = hsum8(acc[r][t]) - acc_min[r][t];
}

// R rows x T tokens of Q6_K. Per super-block: y += d * dx * (sum_g sc_g sum_{i in g} u_i x_i
// - 32 sum_g sc_g sum16_g) over the 16 groups g of 16 values, u = q + 32 in 0..63.
template <int R, int T>
void micro_q6_k(const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  const std::size_t nsb = a.k / qk_k, nb = a.k / 32;
  const __m256i low4 = _mm256_set1_epi8(15), low2 = _mm256_set1_epi8(3);
  __m256 acc[R][T];
  float acc_off[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      acc[r][t] = _mm256_setzero_ps();
      acc_off[r][t] = 0.0f;
    }
  for (std::size_t sb = 0; sb < nsb; ++sb) {
    for (int r = 0; r < R; ++r) {
      const auto& b = reinterpret_cast<const block_q6_k*>(a.w + (r0 + r) * a.w_stride)[sb];
      const float d = _cvtsh_ss(b.d);
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
      const __m256i s_lo = _mm256_cvtepi8_epi32(s), s_hi = _mm256_cvtepi8_epi32(_mm_srli_si128(s, 8));
      __m256i isum[T];
      for (int t = 0; t < T; ++t) {
        const std::size_t tb = (t0 + t) * nb + sb * 8;
        const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(s_lo, load32(x.sum16 + 2 * tb)),
                                             _mm256_mullo_epi32(s_hi, load32(x.sum16 + 2 * tb + 8)));
        acc_off[r][t] += 32.0f * d * x.d[tb] * static_cast<float>(hsum8_epi32(off));
        isum[t] = _mm256_setzero_si256();
      }
      for (int h = 0; h < 2; ++h) {
        const __m256i ql_a = load32(b.ql + 64 * h), ql_b = load32(b.ql + 64 * h + 32);
        const __m256i qh = load32(b.qh + 32 * h);
        for (int k = 0; k < 4; ++k) {  // values 128h + 32k + l: block 4h + k
          const __m256i ql = (k & 1) ? ql_b : ql_a;
          const __m256i lo4 = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), low4);
          const __m256i hi2 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), low2);
          const __m256i u = _mm256_or_si256(lo4, _mm256_slli_epi16(hi2, 4));
          const int g = 2 * (4 * h + k);  // the block's two 16-value scale groups
          const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(b.scales[g + 1]), _mm_set1_epi16(b.scales[g]));
          for (int t = 0; t < T; ++t) {
            const std::int8_t* xq = x.qs + 32 * ((t0 + t) * nb + sb * 8 + 4 * h + k);
            isum[t] = _mm256_add_epi32(isum[t], block_dot(u, load32(xq), sc));
          }
        }
      }
      for (int t = 0; t < T; ++t) {
        const float dx = x.d[(t0 + t) * nb + sb * 8];
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * dx), acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) a.y[(t0 + t) * a.y_stride + r0 + r] = hsum8(acc[r][t]) - acc_off[r][t];
}

template <int R, int T>
struct q4_k_kernel {
  static void run(const tile_args& a, std::size_t r, std::size_t t, const act_q8& x) { micro_q4_k<R, T>(a, r, t, x); }
};
template <int R, int T>
struct q6_k_kernel {
  static void run(const tile_args& a, std::size_t r, std::size_t t, const act_q8& x) { micro_q6_k<R, T>(a, r, t, x); }
};

template <template <int, int> class K, int R>
void rows_of(std::size_t t_left, const tile_args& a, std::size_t r, std::size_t t, const act_q8& x) {
  switch (t_left) {
    case 1: return K<R, 1>::run(a, r, t, x);
    case 2: return K<R, 2>::run(a, r, t, x);
    case 3: return K<R, 3>::run(a, r, t, x);
    default: return K<R, 4>::run(a, r, t, x);
  }
}

// Tiles of 2 rows x 4 tokens (each weight block unpacked once for 4 tokens); one row at a
// time for decode, so the weights stream through memory in order.
template <template <int, int> class K>
void tile(const tile_args& a, const act_q8& x) {
  if (a.n_tok == 1) {
    for (std::size_t r = 0; r < a.n_rows; ++r) K<1, 1>::run(a, r, 0, x);
    return;
  }
  for (std::size_t r = 0; r < a.n_rows; r += 2) {
    const bool two = a.n_rows - r >= 2;
    for (std::size_t t = 0; t < a.n_tok; t += 4) {
      const std::size_t t_left = std::min<std::size_t>(4, a.n_tok - t);
      if (two) rows_of<K, 2>(t_left, a, r, t, x);
      else rows_of<K, 1>(t_left, a, r, t, x);
    }
  }
}

} // namespace

void tile_q4_k(const tile_args& a, const act_q8& x) { tile<q4_k_kernel>(a, x); }
void tile_q6_k(const tile_args& a, const act_q8& x) { tile<q6_k_kernel>(a, x); }

} // namespace troupe::inference::avx2
