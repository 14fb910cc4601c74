// Private: the per-instruction-set kernels behind the public conversion, matmul and op entry
// points. Each namespace (scalar, avx2, avx512) has the same functions; the public functions
// pick one at run time from host_cpu_features(). avx2::* and avx512::* live in files compiled
// with those ISA flags and must only be called after the CPUID check.
#pragma once

#include <cstddef>
#include <cstdint>

namespace troupe::inference {

/// Activations quantized to int8 in blocks of 32 (one f32 scale per block), as used for the
/// integer dot products against Q8_0 / Q4_0 weights. All arrays are (n_tokens, ...) row-major.
struct act_q8 {
  const std::int8_t* qs;     ///< (n_tokens, k) quants, |q| <= 127
  const float* d;            ///< (n_tokens, k/32) scales: x ~ d * q
  const std::int32_t* sum;   ///< (n_tokens, k/32) sum of the 32 quants of each block
  const std::int32_t* sum16; ///< (n_tokens, k/16) sum of each half block (for Q6_K's scales)
  /// (n_tokens, k/64, 16) per pair of blocks, ready for zmm registers: block 2p's scale in
  /// lanes 0-7 and block 2p+1's in lanes 8-15...
  const float* d_pair;
  /// ...and the same for -offset * sum, the start of the integer accumulators that cancels
  /// the unsigned weight operand's offset (offset 16 for Q8_0, 1 for Q4_0, 0 otherwise).
  const std::int32_t* start_pair;
  /// For the packed Q8_0 kernel only (null otherwise), block-major, so that the tokens of a
  /// tile sit together at fixed offsets: (k/32, n_tokens, 32) quants, (k/32, n_tokens)
  /// scales, and (k/32, n_tokens) -128 * sum of each block, the start of the accumulators
  /// that cancels the +128 of packed Q8_0 weights.
  const std::int8_t* qs_bt;
  const float* d_bt;
  const std::int32_t* offset_sum;
  std::size_t k;             ///< values per token (a multiple of 32)
};

/// One tile of y = x * w^T: rows [0, n_rows) of the weights starting at `w` (row stride
/// `w_stride` bytes, `k` values each) against tokens [0, n_tok); y[t * y_stride + r].
struct tile_args {
  const std::uint8_t* w;
  std::size_t w_stride;
  std::size_t n_rows;
  std::size_t k;
  std::size_t n_tok;
  float* y;
  std::size_t y_stride;
};

/// Packed Q8_0 (pack_weights on AVX-512 VNNI; written by pack_q8_0, read by
/// avx512::tile_q8_0_packed). The rows are cut into panels of 16 (the last padded with zero
/// rows); a panel holds, for each pair of 32-value blocks (an odd last block padded with a
/// zero block), 1024 bytes of quants then 64 bytes of f16 scales. The quants are block 2p's
/// 512 bytes then block 2p+1's; within a block, 8 chunks of 64 bytes, chunk j holding values
/// 4j..4j+3 of rows 0..15 (row r at bytes 4r..4r+3) as unsigned bytes w + 128. The scales are
/// block 2p's 16 rows, then block 2p+1's. So one zmm load is one chunk: 16 rows x 4 values,
/// one vpdpbusd lane per row; every load is 64-byte aligned.
inline constexpr std::size_t q8_0_panel_rows = 16;
inline constexpr std::size_t q8_0_pair_bytes = 1088;
/// Bytes of one packed Q8_0 panel of rows with k values each.
constexpr std::size_t q8_0_panel_bytes(std::size_t k) { return (k / 32 + 1) / 2 * q8_0_pair_bytes; }
/// Packs `rows` Q8_0 rows of k values (row stride w_stride bytes) into `out`
/// (ceil(rows / 16) * q8_0_panel_bytes(k) bytes).
void pack_q8_0(const std::uint8_t* w, std::size_t w_stride, std::size_t rows, std::size_t k, std::uint8_t* out);

#define TROUPE_ISA_KERNELS                                                                    \
  void f16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n);                     \
  void f32_to_f16_row(const float* src, std::uint16_t* dst, std::size_t n);                     \
  void bf16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n);                    \
  void f32_to_bf16_row(const float* src, std::uint16_t* dst, std::size_t n);                    \
  /* float activations (n_tok, x_stride) against F32 / F16 / BF16 weights */                   \
  void tile_f32(const tile_args& a, const float* x, std::size_t x_stride);                      \
  void tile_f16(const tile_args& a, const float* x, std::size_t x_stride);                      \
  void tile_bf16(const tile_args& a, const float* x, std::size_t x_stride);                     \
  /* int8 activations against Q8_0 / Q4_0 weights */                                           \
  void tile_q8_0(const tile_args& a, const act_q8& x);                                          \
  void tile_q4_0(const tile_args& a, const act_q8& x);                                          \
  /* x(n_blocks * 32) to int8 blocks: d = max|x| / 127, q = round-to-even(x / d) */          \
  void quantize_act(const float* x, std::size_t n_blocks, std::int8_t* qs, float* d, std::int32_t* sum, \
                    std::int32_t* sum16);                                                       \
  /* Q4_K / Q6_K rows to f32 */                                                                 \
  void dequantize_q4_k(const void* src, float* dst, std::size_t n);                             \
  void dequantize_q6_k(const void* src, float* dst, std::size_t n);

namespace scalar {
TROUPE_ISA_KERNELS
} // namespace scalar
namespace avx2 {
TROUPE_ISA_KERNELS
/* int8 activations (super-blocks of 256 sharing one scale) against Q4_K / Q6_K weights */
void tile_q4_k(const tile_args& a, const act_q8& x);
void tile_q6_k(const tile_args& a, const act_q8& x);
} // namespace avx2
namespace avx512 {
TROUPE_ISA_KERNELS
/* int8 activations against Q4_K / Q6_K weights (VNNI) */
void tile_q4_k(const tile_args& a, const act_q8& x);
void tile_q6_k(const tile_args& a, const act_q8& x);
/* int8 activations against packed Q8_0 (see pack_q8_0): a.w is the first panel, a.w_stride
   the panel bytes; a.n_rows need not be a multiple of 16. Needs act_q8::offset_sum. */
void tile_q8_0_packed(const tile_args& a, const act_q8& x);
} // namespace avx512

#undef TROUPE_ISA_KERNELS

} // namespace troupe::inference
