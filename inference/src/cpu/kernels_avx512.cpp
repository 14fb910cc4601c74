// AVX-512 kernels (F/BW/VL/DQ + VNNI; compiled with those flags, called only after a CPUID
// check). Float weights: register tiles of up to 4 rows x 4 tokens, 16 lanes each, weights
// widened from F16/BF16 in registers. Q8_0/Q4_0: vpdpbusd on 32-value blocks with the
// unsigned operand made from the weights and the offset folded into the accumulator start.
// GCC 12's own AVX-512 intrinsics (vcvtph2ps, reductions) start from an "undefined"
// register and trip -Wuninitialized when inlined; the warning is about the header, not us.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>

#include "cpu/isa.hpp"
#include "troupe/inference/fp16.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::avx512 {

namespace {

// How far ahead of the current position each weight row is prefetched: the hardware
// prefetcher alone falls behind on several interleaved row streams.
constexpr std::size_t prefetch_bytes = 1024;
// The same for the one-token integer kernels, which walk the weights as one stream (measured
// here: 4 KiB ahead beats 1 KiB by a few percent). The one-token F16/BF16 kernel does without:
// on Zen 4 the hardware prefetcher alone streamed ~40% faster than with a prefetch every other line.
constexpr std::size_t decode_prefetch_bytes = 4096;

struct load_f32 {
  static constexpr std::size_t bytes = 4;
  static __m512 full(const std::uint8_t* row, std::size_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static __m512 part(const std::uint8_t* row, std::size_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  }
};
struct load_f16 {
  static constexpr std::size_t bytes = 2;
  static __m512 full(const std::uint8_t* row, std::size_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static __m512 part(const std::uint8_t* row, std::size_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * i));
  }
};
struct load_bf16 {
  static constexpr std::size_t bytes = 2;
  static __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
  static __m512 full(const std::uint8_t* row, std::size_t i) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static __m512 part(const std::uint8_t* row, std::size_t i, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, row + 2 * i));
  }
};

// Tokens per register tile of the float kernels: 4 rows x 6 tokens = 24 accumulators, plus
// 4 weight vectors and one activation vector, fits the 32 zmm registers.
constexpr std::size_t tok_tile = 6;

// R rows x T tokens, full k; accumulators stay in registers.
template <class L, int R, int T>
void micro_float(const std::uint8_t* w, std::size_t ws, const float* x, std::size_t xs, std::size_t k, float* y,
                 std::size_t ys) {
  __m512 acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w + r * ws) + L::bytes * i + prefetch_bytes, _MM_HINT_T0);
      wv[r] = L::full(w + r * ws, i);
    }
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * xs + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (i < k) {
    const auto m = static_cast<__mmask16>((1u << (k - i)) - 1u);
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = L::part(w + r * ws, i, m);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * xs + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// Picks the instantiation for the edge of the tile (fewer than 4 rows or tokens left).
template <class L, int R>
void micro_float_rows(int t_left, const std::uint8_t* w, std::size_t ws, const float* x, std::size_t xs,
                      std::size_t k, float* y, std::size_t ys) {
  switch (t_left) {
    case 1: return micro_float<L, R, 1>(w, ws, x, xs, k, y, ys);
    case 2: return micro_float<L, R, 2>(w, ws, x, xs, k, y, ys);
    case 3: return micro_float<L, R, 3>(w, ws, x, xs, k, y, ys);
    case 4: return micro_float<L, R, 4>(w, ws, x, xs, k, y, ys);
    case 5: return micro_float<L, R, 5>(w, ws, x, xs, k, y, ys);
    default: return micro_float<L, R, 6>(w, ws, x, xs, k, y, ys);
  }
}

// One token (decode): rows one after another, so the weights stream through memory in
// order. 32 values (one 64-byte line of F16/BF16) per step into two accumulators: measured
// here 13-15% faster over the SmolLM-360M decode matrices than 64 values into four (same
// memory, alternating runs), in low- and high-bandwidth phases of the machine alike.
template <class L>
void row_dots(const tile_args& a, const float* x) {
  for (std::size_t r = 0; r < a.n_rows; ++r) {
    const std::uint8_t* w = a.w + r * a.w_stride;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    std::size_t i = 0;
    for (; i + 32 <= a.k; i += 32) {
      if constexpr (L::bytes == 4) {
        _mm_prefetch(reinterpret_cast<const char*>(w) + L::bytes * i + 1024, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w) + L::bytes * i + 1024 + 64, _MM_HINT_T0);
      }
      acc0 = _mm512_fmadd_ps(L::full(w, i), _mm512_loadu_ps(x + i), acc0);
      acc1 = _mm512_fmadd_ps(L::full(w, i + 16), _mm512_loadu_ps(x + i + 16), acc1);
    }
    for (; i < a.k; i += 16) {
      const auto m = static_cast<__mmask16>(a.k - i >= 16 ? 0xffffu : (1u << (a.k - i)) - 1u);
      acc0 = _mm512_fmadd_ps(L::part(w, i, m), _mm512_maskz_loadu_ps(m, x + i), acc0);
    }
    a.y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}

template <class L>
void tile_float(const tile_args& a, const float* x, std::size_t xs) {
  if (a.n_tok == 1) return row_dots<L>(a, x);
  for (std::size_t r = 0; r < a.n_rows; r += 4) {
    const int r_left = static_cast<int>(std::min<std::size_t>(4, a.n_rows - r));
    const std::uint8_t* w = a.w + r * a.w_stride;
    for (std::size_t t = 0; t < a.n_tok; t += tok_tile) {
      const int t_left = static_cast<int>(std::min<std::size_t>(tok_tile, a.n_tok - t));
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


// Unsigned weight operand of a pair of 32-value blocks (zmm: block b in the low half, b+1 in
// the high half) or of one block (ymm), and the per-lane offset multiplier:
// Q8_0: u = w + 128, so dot(u, x) = dot(w, x) + 128 * sum(x)  -> start lanes at -16 * sum
// Q4_0: u = nibble,  so dot(u, x) = dot(w, x) + 8 * sum(x)    -> start lanes at -1 * sum
struct unpack_q8_0 {
  using block = block_q8_0;
  static constexpr int offset_per_lane = 16;
  static __m256i u(const block& b) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)), _mm256_set1_epi8(-128));
  }
  static __m512i u2(const block& b0, const block& b1) {
    const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0.qs))),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1.qs)), 1);
    return _mm512_xor_si512(w, _mm512_set1_epi8(-128));
  }
};
struct unpack_q4_0 {
  using block = block_q4_0;
  static constexpr int offset_per_lane = 1;
  static __m256i u(const block& b) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i m = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
  }
  static __m512i u2(const block& b0, const block& b1) {
    // 128-bit lanes [q0, q0, q1, q1]; shift the odd lanes to take the high nibbles.
    const __m256i q0 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0.qs)));
    const __m256i q1 = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b1.qs)));
    __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
    q = _mm512_mask_srli_epi16(q, 0xff00ff00u, q, 4);
    return _mm512_and_si512(q, _mm512_set1_epi8(15));
  }
};


// The f16 scales of blocks b and b+1 as 16 floats (8 + 8): one masked load of the two
// scale words (the mask keeps it inside the row), a word permute and one conversion.
template <class Block>
__m512 pair_scales(const Block* b) {
  constexpr int second = sizeof(Block) / 2;  // word index of the next block's scale
  static_assert(sizeof(Block) % 2 == 0 && second < 32);
  static constexpr auto index = [] {
    std::array<std::uint16_t, 32> t{};  // words 0-7 <- scale 0, words 8-15 <- scale 1
    for (int i = 8; i < 16; ++i) t[i] = second;
    return t;
  }();
  const __m512i words = _mm512_maskz_loadu_epi16((1u << 0) | (1u << second), b);
  const __m512i spread = _mm512_permutexvar_epi16(_mm512_loadu_si512(index.data()), words);
  return _mm512_cvtph_ps(_mm512_castsi512_si256(spread));
}

// R rows x T tokens over all blocks: pairs of blocks in zmm registers, an odd last block in
// ymm. Per (row, token) and block pair: one vpdpbusd, one convert, one multiply, one FMA.
template <class U, int R, int T>
void micro_int(const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  using block = typename U::block;
  const std::size_t nb = a.k / 32;
  const block* w[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const block*>(a.w + (r0 + r) * a.w_stride);
  __m512 acc[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  std::size_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    __m512i u[R];
    __m512 dw[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      u[r] = U::u2(w[r][b], w[r][b + 1]);
      dw[r] = pair_scales(&w[r][b]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const std::size_t tb = (t0 + t) * nb + b, tp = ((t0 + t) * (nb / 2) + b / 2) * 16;
      const __m512i xq = _mm512_loadu_si512(x.qs + 32 * tb);
      const __m512i start = _mm512_loadu_si512(x.start_pair + tp);
      const __m512 dx = _mm512_loadu_ps(x.d_pair + tp);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m512i dot = _mm512_dpbusd_epi32(start, u[r], xq);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw[r], dx), acc[r][t]);
      }
    }
  }
  if (b < nb) {
    __m256i u[R];
    float dw[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      u[r] = U::u(w[r][b]);
      dw[r] = _cvtsh_ss(w[r][b].d);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const std::size_t tb = (t0 + t) * nb + b;
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * tb));
      const __m256i start = _mm256_set1_epi32(-U::offset_per_lane * x.sum[tb]);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const __m256i dot = _mm256_dpbusd_epi32(start, u[r], xq);
        const __m512 v = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw[r] * x.d[tb])));
        acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_maskz_mov_ps(0x00ff, v));
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) a.y[(t0 + t) * a.y_stride + r0 + r] = _mm512_reduce_add_ps(acc[r][t]);
}

// One token (decode), one row at a time so the weights stream through memory in order; two
// block pairs per step into two accumulators, so consecutive pairs do not wait on each other's
// FMA and more of the row is in flight while memory catches up.
template <class U>
void row_dots_int(const tile_args& a, const act_q8& x) {
  using block = typename U::block;
  const std::size_t nb = a.k / 32;
  for (std::size_t r = 0; r < a.n_rows; ++r) {
    const block* w = reinterpret_cast<const block*>(a.w + r * a.w_stride);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    auto pair = [&](std::size_t b, __m512& acc) {
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(x.start_pair + 8 * b), U::u2(w[b], w[b + 1]),
                                              _mm512_loadu_si512(x.qs + 32 * b));
      // Scales from two scalar loads: faster here than pair_scales' masked load + permute.
      const __m512 dw = _mm512_cvtph_ps(_mm256_set_m128i(_mm_set1_epi16(static_cast<short>(w[b + 1].d)),
                                                         _mm_set1_epi16(static_cast<short>(w[b].d))));
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_loadu_ps(x.d_pair + 8 * b)), acc);
    };
    std::size_t b = 0;
    for (; b + 4 <= nb; b += 4) {
      _mm_prefetch(reinterpret_cast<const char*>(&w[b]) + decode_prefetch_bytes, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(&w[b]) + decode_prefetch_bytes + 64, _MM_HINT_T0);
      pair(b, acc0);
      pair(b + 2, acc1);
    }
    if (b + 2 <= nb) {
      pair(b, acc0);
      b += 2;
    }
    float tail = 0.0f;
    if (b < nb) {  // an odd last block
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_set1_epi32(-U::offset_per_lane * x.sum[b]), U::u(w[b]),
                                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * b)));
      const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(_cvtsh_ss(w[b].d) * x.d[b]));
      tail = _mm512_reduce_add_ps(_mm512_maskz_mov_ps(0x00ff, _mm512_castps256_ps512(v)));
    }
    a.y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + tail;
  }
}

template <class U, int R>
void micro_int_rows(int t_left, const tile_args& a, std::size_t r0, std::size_t t0, const act_q8& x) {
  switch (t_left) {
    case 1: return micro_int<U, R, 1>(a, r0, t0, x);
    case 2: return micro_int<U, R, 2>(a, r0, t0, x);
    case 3: return micro_int<U, R, 3>(a, r0, t0, x);
    default: return micro_int<U, R, 4>(a, r0, t0, x);
  }
}

template <class U>
void tile_int(const tile_args& a, const act_q8& x) {
  if (a.n_tok == 1) return row_dots_int<U>(a, x);
  for (std::size_t r = 0; r < a.n_rows; r += 4) {
    const int r_left = static_cast<int>(std::min<std::size_t>(4, a.n_rows - r));
    for (std::size_t t = 0; t < a.n_tok; t += 4) {
      const int t_left = static_cast<int>(std::min<std::size_t>(4, a.n_tok - t));
      switch (r_left) {
        case 1: micro_int_rows<U, 1>(t_left, a, r, t, x); break;
        case 2: micro_int_rows<U, 2>(t_left, a, r, t, x); break;
        case 3: micro_int_rows<U, 3>(t_left, a, r, t, x); break;
        default: micro_int_rows<U, 4>(t_left, a, r, t, x); break;
      }
    }
  }
}

} // namespace

void tile_f32(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f32>(a, x, s); }
void tile_f16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f16>(a, x, s); }
void tile_bf16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_bf16>(a, x, s); }
void tile_q8_0(const tile_args& a, const act_q8& x) { tile_int<unpack_q8_0>(a, x); }
void tile_q4_0(const tile_args& a, const act_q8& x) { tile_int<unpack_q4_0>(a, x); }

} // namespace troupe::inference::avx512
