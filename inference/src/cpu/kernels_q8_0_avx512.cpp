// AVX-512 VNNI kernel for packed Q8_0 weights (layout in cpu/isa.hpp; compiled with AVX-512
// flags, called only after a CPUID check). One zmm holds 4 values of each of a panel's 16
// rows, so vpdpbusd against the token's 4 int8 activations broadcast from memory adds 4
// products into each row's lane: the lanes are the outputs, no horizontal sums. Per block of
// 32 values and token: 8 vpdpbusd into an accumulator that starts at -128 * sum(x) (cancelling
// the +128 that makes the weights unsigned), then one convert and one FMA with the 16 rows'
// scales times the token's scale. The weights of a panel are loaded once per block for up to
// max_tile_tokens tokens, the tokens' accumulators staying in registers. One token (decode)
// reads each weight once: the task's panels are one stream, prefetched a fixed distance ahead.
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 AVX-512 header false positives
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu/isa.hpp"

namespace troupe::inference::avx512 {

namespace {

// Tokens per register tile: T int accumulators + T float accumulators + weights and scales
// within the 32 zmm registers.
constexpr std::size_t max_tile_tokens = 12;

inline __m512i broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/// Lines of the next panel to prefetch while a tile runs: `lines_per_block` lines from `next`
/// after each block, stopping at `end` (the next panel's part for this tile). One token: the
/// tile prefetches every line up to stream_prefetch_bytes past the block it is at, `next`
/// carrying on from panel to panel.
struct prefetch_plan {
  const std::uint8_t* next;
  const std::uint8_t* end;
  std::size_t lines_per_block;
};

// One token: how far ahead of its reads a thread prefetches its stream of panels, into L2.
// The hardware prefetcher alone, restarting at every task, streamed 65% of the read bound
// with two threads when the bandwidth was high (~60 GB/s) and 91% when low (~35); with this
// (and long per-thread streams, cpu/stream_split.hpp) 86% and 102%. 1-3 KiB and the L2 or
// non-temporal hint were within a few percent; into L1 (T0) was slower.
constexpr std::size_t stream_prefetch_bytes = 2048;
// Bytes of one block of a panel (its 512 quants and half of its pair's 64 scale bytes): how
// far the stream advances per block.
constexpr std::size_t block_stream_bytes = q8_0_pair_bytes / 2;

// T tokens (activations from token t0) against one panel (16 rows, nb blocks); y(T, ys)
// gets the rows selected by `rows`.
template <int T>
void panel_tile(const std::uint8_t* panel, std::size_t nb, const act_q8& x, std::size_t n_tok, std::size_t t0,
                float* y, std::size_t ys, __mmask16 rows, prefetch_plan& pf) {
  // Block b of token t0 + t: quants at xq + b * 32 * n_tok + 32 * t, scale and offset sum at
  // [b * n_tok + t]; so each block needs one base pointer per array.
  const std::int8_t* xq = x.qs_bt + 32 * t0;
  const float* xd = x.d_bt + t0;
  const std::int32_t* xo = x.offset_sum + t0;
  __m512 acc[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (std::size_t b = 0; b < nb; ++b) {
    if constexpr (T == 1) {
      for (const std::uint8_t* ahead = panel + (b + 1) * block_stream_bytes + stream_prefetch_bytes; pf.next < ahead;
           pf.next += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pf.next), _MM_HINT_T2);
    } else {
      for (std::size_t l = 0; l < pf.lines_per_block && pf.next < pf.end; ++l, pf.next += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pf.next), _MM_HINT_T0);
    }
    const std::uint8_t* pair = panel + (b / 2) * q8_0_pair_bytes;
    const std::uint8_t* q = pair + (b % 2) * 512;
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(pair + 1024 + (b % 2) * 32)));
    __m512i ia[T];
    if constexpr (T == 1) {
      // One token: two chains of 4 vpdpbusd instead of one of 8, for latency.
      __m512i i0 = _mm512_set1_epi32(xo[b * n_tok]), i1 = _mm512_setzero_si512();
      const std::int8_t* xb = xq + 32 * n_tok * b;
#pragma GCC unroll 8
      for (int j = 0; j < 8; j += 2) {
        i0 = _mm512_dpbusd_epi32(i0, _mm512_load_si512(q + 64 * j), broadcast4(xb + 4 * j));
        i1 = _mm512_dpbusd_epi32(i1, _mm512_load_si512(q + 64 * j + 64), broadcast4(xb + 4 * j + 4));
      }
      ia[0] = _mm512_add_epi32(i0, i1);
    } else {
      const std::int32_t* xob = xo + n_tok * b;
      const std::int8_t* xb = xq + 32 * n_tok * b;
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) ia[t] = _mm512_set1_epi32(xob[t]);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m512i wv = _mm512_load_si512(q + 64 * j);
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) ia[t] = _mm512_dpbusd_epi32(ia[t], wv, broadcast4(xb + 32 * t + 4 * j));
      }
    }
    const float* xdb = xd + n_tok * b;
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), _mm512_mul_ps(dw, _mm512_set1_ps(xdb[t])), acc[t]);
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ys, rows, acc[t]);
}

using panel_fn = void (*)(const std::uint8_t*, std::size_t, const act_q8&, std::size_t, std::size_t, float*,
                          std::size_t, __mmask16, prefetch_plan&);
constexpr panel_fn panel_tiles[max_tile_tokens] = {
    panel_tile<1>, panel_tile<2>, panel_tile<3>, panel_tile<4>,  panel_tile<5>,  panel_tile<6>,
    panel_tile<7>, panel_tile<8>, panel_tile<9>, panel_tile<10>, panel_tile<11>, panel_tile<12>};

} // namespace

void tile_q8_0_packed(const tile_args& a, const act_q8& x) {
  const std::size_t nb = a.k / 32;
  if (a.n_tok == 1) {  // the panels are contiguous (w_stride = panel bytes): one stream
    prefetch_plan pf{a.w + stream_prefetch_bytes, nullptr, 0};
    for (std::size_t r = 0; r < a.n_rows; r += q8_0_panel_rows) {
      const std::size_t left = a.n_rows - r;
      const auto rows = static_cast<__mmask16>(left >= 16 ? 0xffffu : (1u << left) - 1u);
      panel_tile<1>(a.w + (r / q8_0_panel_rows) * a.w_stride, nb, x, 1, 0, a.y + r, a.y_stride, rows, pf);
    }
    return;
  }
  // Tokens in even tiles of at most max_tile_tokens (16 -> 8 + 8, not 12 + 4).
  const std::size_t n_tiles = (a.n_tok + max_tile_tokens - 1) / max_tile_tokens;
  const std::size_t per_tile = (a.n_tok + n_tiles - 1) / n_tiles;
  // While the tiles of one panel run, the next panel of this task is prefetched, its lines
  // spread evenly over the tiles and their blocks, so that streaming the weights from memory
  // overlaps the arithmetic of every tile and not only of the first one.
  const std::size_t tile_bytes = (a.w_stride / 64 + n_tiles - 1) / n_tiles * 64;
  const std::size_t lines_per_block = (tile_bytes / 64 + nb - 1) / nb;
  const std::uint8_t* end = a.w + (a.n_rows + q8_0_panel_rows - 1) / q8_0_panel_rows * a.w_stride;
  for (std::size_t r = 0; r < a.n_rows; r += q8_0_panel_rows) {
    const std::uint8_t* panel = a.w + (r / q8_0_panel_rows) * a.w_stride;
    const std::size_t left = a.n_rows - r;
    const auto rows = static_cast<__mmask16>(left >= 16 ? 0xffffu : (1u << left) - 1u);
    for (std::size_t t = 0, tile = 0; t < a.n_tok; t += per_tile, ++tile) {
      const std::size_t n = std::min(per_tile, a.n_tok - t);
      const std::uint8_t* next = panel + a.w_stride + tile * tile_bytes;
      prefetch_plan pf{next, std::min(end, std::min(next + tile_bytes, panel + 2 * a.w_stride)), lines_per_block};
      panel_tiles[n - 1](panel, nb, x, a.n_tok, t, a.y + t * a.y_stride + r, a.y_stride, rows, pf);
    }
  }
}

} // namespace troupe::inference::avx512
