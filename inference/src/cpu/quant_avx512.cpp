// AVX-512 activation quantization (int8 blocks of 32 for the integer matmul kernels) and
// Q4_K / Q6_K row expansion to f32. Compiled with AVX-512 flags, called only after a CPUID check.
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 AVX-512 header false positives
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/isa.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::avx512 {

void quantize_act(const float* x, std::size_t n_blocks, std::int8_t* qs, float* d, std::int32_t* sum,
                  std::int32_t* sum16) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (std::size_t b = 0; b < n_blocks; ++b, x += 32, qs += 32) {
    const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(lo, abs_mask), _mm512_and_ps(hi, abs_mask)));
    d[b] = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, id));  // round to nearest even
    const __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, id));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(qhi));
    sum16[2 * b] = _mm512_reduce_add_epi32(qlo);
    sum16[2 * b + 1] = _mm512_reduce_add_epi32(qhi);
    sum[b] = sum16[2 * b] + sum16[2 * b + 1];
  }
}

void dequantize_q4_k(const void* src, float* y, std::size_t n) {
  const auto* x = static_cast<const block_q4_k*>(src);
  const __m128i low = _mm_set1_epi8(15);
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = _cvtsh_ss(x[b].d), dmin = _cvtsh_ss(x[b].dmin);
    const std::uint8_t* s = x[b].scales;
    for (int j = 0; j < 8; ++j, y += 32) {
      const int sc = j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
      const int m = j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
      const __m512 ds = _mm512_set1_ps(d * static_cast<float>(sc));
      const __m512 dm = _mm512_set1_ps(dmin * static_cast<float>(m));
      const std::uint8_t* q = x[b].qs + 32 * (j / 2);
      for (int half = 0; half < 2; ++half) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * half));
        v = _mm_and_si128((j & 1) ? _mm_srli_epi16(v, 4) : v, low);
        const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v));
        _mm512_storeu_ps(y + 16 * half, _mm512_sub_ps(_mm512_mul_ps(ds, f), dm));  // unfused, as the reference
      }
    }
  }
}

void dequantize_q6_k(const void* src, float* y, std::size_t n) {
  const auto* x = static_cast<const block_q6_k*>(src);
  const __m128i low = _mm_set1_epi8(15), two = _mm_set1_epi8(3), bias = _mm_set1_epi8(32);
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = _cvtsh_ss(x[b].d);
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k, y += 32) {
        for (int half = 0; half < 2; ++half) {
          const int l = 16 * half;
          __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].ql + 64 * h + l + 32 * (k & 1)));
          lo = _mm_and_si128(k < 2 ? lo : _mm_srli_epi16(lo, 4), low);
          __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qh + 32 * h + l));
          hi = _mm_and_si128(_mm_srli_epi16(hi, 2 * k), two);
          const __m128i q = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), bias);
          const float ds = d * static_cast<float>(x[b].scales[(128 * h + 32 * k + l) / 16]);
          const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
          _mm512_storeu_ps(y + l, _mm512_mul_ps(_mm512_set1_ps(ds), f));
        }
      }
    }
  }
}

} // namespace troupe::inference::avx512
