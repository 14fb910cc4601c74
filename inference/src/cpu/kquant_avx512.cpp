// AVX-512 VNNI dot products of Q4_K / Q6_K weights with int8 activations (blocks of 32, see
// act_q8). Each 64-value chunk of a weight row becomes 64 unsigned bytes in one zmm register
// (Q4_K: nibbles 0..15; Q6_K: 6-bit values 0..63) and meets the matching two activation
// blocks in one vpdpbusd; lanes 0-7 hold the first block's partial sums, 8-15 the second's.
// The offsets (Q4_K's mins, Q6_K's -32) are applied once per super-block from the
// activation sums. Compiled with AVX-512 flags, called only after a CPUID check.
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 AVX-512 header false positives
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/isa.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::avx512 {

namespace {

__m512 pair_ps(float lo, float hi) { return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1); }

float hsum8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// The eight 6-bit scales and mins of a Q4_K super-block, as bytes (layout in quant.hpp).
void q4_k_scales(const std::uint8_t* s, std::uint64_t& sc, std::uint64_t& m) {
  std::uint32_t a = 0, b = 0, c = 0;
  std::memcpy(&a, s, 4);
  std::memcpy(&b, s + 4, 4);
  std::memcpy(&c, s + 8, 4);
  const std::uint32_t sc_lo = a & 0x3f3f3f3fu, m_lo = b & 0x3f3f3f3fu;
  const std::uint32_t sc_hi = (c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4);
  const std::uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | (((b >> 6) & 0x03030303u) << 4);
  sc = sc_lo | (static_cast<std::uint64_t>(sc_hi) << 32);
  m = m_lo | (static_cast<std::uint64_t>(m_hi) << 32);
}

__m256 bytes_to_ps(std::uint64_t v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v))));
}

template <int R, int T>
void micro_q4_k(const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  const std::size_t nsb = a.k / qk_k, nb = a.k / 32;
  const block_q4_k* w[R];
  __m512 acc[R][T];
  __m256 acc_min[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    w[r] = reinterpret_cast<const block_q4_k*>(a.w + (r0 + r) * a.w_stride);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      acc[r][t] = _mm512_setzero_ps();
      acc_min[r][t] = _mm256_setzero_ps();
    }
  }
  const __m512i low4 = _mm512_set1_epi8(15);
  for (std::size_t sb = 0; sb < nsb; ++sb) {
    alignas(32) float dsc[R][8];  // d * scale of each sub-block
    __m256 dmin[R];               // dmin * min of each sub-block
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      std::uint64_t sc = 0, m = 0;
      q4_k_scales(w[r][sb].scales, sc, m);
      _mm256_store_ps(dsc[r], _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(w[r][sb].d)), bytes_to_ps(sc)));
      dmin[r] = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(w[r][sb].dmin)), bytes_to_ps(m));
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const std::size_t tb = (t0 + t) * nb + sb * 8;
      const __m256 dsum = _mm256_mul_ps(_mm256_loadu_ps(x.d + tb),
                                        _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.sum + tb))));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc_min[r][t] = _mm256_fmadd_ps(dmin[r], dsum, acc_min[r][t]);
    }
    for (int c = 0; c < 4; ++c) {  // values 64c .. 64c+63: sub-blocks 2c (low nibbles), 2c+1 (high)
      __m512i u[R];
      __m512 sc[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][sb].qs + 32 * c));
        __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
        z = _mm512_mask_srli_epi16(z, 0xffff0000u, z, 4);
        u[r] = _mm512_and_si512(z, low4);
        sc[r] = pair_ps(dsc[r][2 * c], dsc[r][2 * c + 1]);
      }
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const std::size_t tb = (t0 + t) * nb + sb * 8 + 2 * c;
        const __m512i xq = _mm512_loadu_si512(x.qs + 32 * tb);
        const __m512 dx = _mm512_loadu_ps(x.d_pair + 8 * tb);  // pair tb / 2, 16 lanes each
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[r], xq);
          acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sc[r], dx), acc[r][t]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
      a.y[(t0 + t) * a.y_stride + r0 + r] = _mm512_reduce_add_ps(acc[r][t]) - hsum8(acc_min[r][t]);
}

template <int R, int T>
void micro_q6_k(const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  const std::size_t nsb = a.k / qk_k, nb = a.k / 32;
  const block_q6_k* w[R];
  __m512 acc[R][T], acc_off[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    w[r] = reinterpret_cast<const block_q6_k*>(a.w + (r0 + r) * a.w_stride);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = acc_off[r][t] = _mm512_setzero_ps();
  }
  const __m512i low4 = _mm512_set1_epi8(15), low2 = _mm512_set1_epi8(3);
  const __m512i dup2 = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  for (std::size_t sb = 0; sb < nsb; ++sb) {
    __m512 sc16[R];  // d * scale of each 16-value group
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][sb].scales));
      sc16[r] = _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(w[r][sb].d)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(s)));
    }
    // Offset: sum_g d*sc_g * 32 * dx_block(g) * sum16_g, subtracted at the end.
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const std::size_t tb = (t0 + t) * nb + sb * 8;
      const __m512 dx16 = _mm512_permutexvar_ps(dup2, _mm512_castps256_ps512(_mm256_loadu_ps(x.d + tb)));
      const __m512 dsum16 = _mm512_mul_ps(dx16, _mm512_cvtepi32_ps(_mm512_loadu_si512(x.sum16 + 2 * tb)));
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) acc_off[r][t] = _mm512_fmadd_ps(sc16[r], dsum16, acc_off[r][t]);
    }
    for (int h = 0; h < 2; ++h) {
      for (int kp = 0; kp < 4; kp += 2) {  // values 128h + 32kp .. +63: blocks kp and kp+1
        __m512i u[R];
        __m512 sc[R];
        const __m512i group = _mm512_add_epi32(_mm512_set1_epi32(8 * h + 2 * kp),
                                               _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2));
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
          const __m512i ql = _mm512_loadu_si512(w[r][sb].ql + 64 * h);
          const __m512i lo = _mm512_and_si512(kp == 0 ? ql : _mm512_srli_epi16(ql, 4), low4);
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][sb].qh + 32 * h));
          __m512i z = _mm512_srli_epi16(_mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1), 2 * kp);
          z = _mm512_mask_srli_epi16(z, 0xffff0000u, z, 2);
          u[r] = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(z, low2), 4));
          sc[r] = _mm512_permutexvar_ps(group, sc16[r]);
        }
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          const std::size_t tb = (t0 + t) * nb + sb * 8 + 4 * h + kp;
          const __m512i xq = _mm512_loadu_si512(x.qs + 32 * tb);
          const __m512 dx = _mm512_loadu_ps(x.d_pair + 8 * tb);  // pair tb / 2, 16 lanes each
#pragma GCC unroll 4
          for (int r = 0; r < R; ++r) {
            const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[r], xq);
            acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sc[r], dx), acc[r][t]);
          }
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t)
      a.y[(t0 + t) * a.y_stride + r0 + r] =
          _mm512_reduce_add_ps(acc[r][t]) - 32.0f * _mm512_reduce_add_ps(acc_off[r][t]);
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
void rows_of(int t_left, const tile_args& a, std::size_t r, std::size_t t, const act_q8& x) {
  switch (t_left) {
    case 1: return K<R, 1>::run(a, r, t, x);
    case 2: return K<R, 2>::run(a, r, t, x);
    case 3: return K<R, 3>::run(a, r, t, x);
    default: return K<R, 4>::run(a, r, t, x);
  }
}

template <template <int, int> class K>
void tile(const tile_args& a, const act_q8& x) {
  for (std::size_t r = 0; r < a.n_rows; r += 4) {
    const std::size_t r_left = std::min<std::size_t>(4, a.n_rows - r);
    for (std::size_t t = 0; t < a.n_tok; t += 4) {
      const int t_left = static_cast<int>(std::min<std::size_t>(4, a.n_tok - t));
      switch (r_left) {
        case 1: rows_of<K, 1>(t_left, a, r, t, x); break;
        case 2: rows_of<K, 2>(t_left, a, r, t, x); break;
        case 3: rows_of<K, 3>(t_left, a, r, t, x); break;
        default: rows_of<K, 4>(t_left, a, r, t, x); break;
      }
    }
  }
}

} // namespace

void tile_q4_k(const tile_args& a, const act_q8& x) { tile<q4_k_kernel>(a, x); }
void tile_q6_k(const tile_args& a, const act_q8& x) { tile<q6_k_kernel>(a, x); }

} // namespace troupe::inference::avx512
