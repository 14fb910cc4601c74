// Quantized block formats exactly as GGUF stores them, and row (de)quantization.
//
// Layouts (all little-endian, f16 = IEEE half bits):
//   Q8_0  32 values / 34 bytes:  d:f16, qs:int8[32]            x = d * q
//   Q4_0  32 values / 18 bytes:  d:f16, qs:u8[16]              x = d * (nibble - 8);
//         byte j holds value j in its low nibble and value j+16 in its high nibble.
//   Q4_K 256 values / 144 bytes: d:f16, dmin:f16, scales:u8[12], qs:u8[128]
//         8 sub-blocks of 32 with 6-bit scale sc and 6-bit min m: x = d*sc*q - dmin*m.
//         qs[32c + l] holds value 64c + l (low nibble) and 64c + 32 + l (high nibble).
//         scales: j<4: sc_j = s[j]&63, m_j = s[j+4]&63;
//                 j>=4: sc_j = (s[j+4]&15) | (s[j-4]>>6)<<4, m_j = (s[j+4]>>4) | (s[j]>>6)<<4.
//   Q6_K 256 values / 210 bytes: ql:u8[128], qh:u8[64], scales:int8[16], d:f16
//         6-bit q in 0..63, x = d * scales[i/16] * (q - 32); per 128-value half h and l<32:
//         value 128h + l + 32k (k = 0..3) takes low 4 bits from ql[64h + l + 32(k&1)]
//         (low nibble for k<2, high for k>=2) and 2 high bits from qh[32h + l] bits 2k..2k+1.
#pragma once

#include <cstddef>
#include <cstdint>

#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

/// Values per block of the legacy quants (Q8_0, Q4_0).
inline constexpr std::size_t qk_legacy = 32;
/// Values per super-block of the k-quants (Q4_K, Q6_K).
inline constexpr std::size_t qk_k = 256;

/// One Q8_0 block.
struct block_q8_0 {
  std::uint16_t d;      ///< scale (f16 bits)
  std::int8_t qs[32];   ///< quants
};
static_assert(sizeof(block_q8_0) == 34);

/// One Q4_0 block.
struct block_q4_0 {
  std::uint16_t d;      ///< scale (f16 bits)
  std::uint8_t qs[16];  ///< nibbles: low = value j, high = value j + 16
};
static_assert(sizeof(block_q4_0) == 18);

/// One Q4_K super-block.
struct block_q4_k {
  std::uint16_t d;          ///< scale of the 6-bit sub-block scales (f16 bits)
  std::uint16_t dmin;       ///< scale of the 6-bit sub-block mins (f16 bits)
  std::uint8_t scales[12];  ///< packed 6-bit scales and mins
  std::uint8_t qs[128];     ///< nibbles
};
static_assert(sizeof(block_q4_k) == 144);

/// One Q6_K super-block.
struct block_q6_k {
  std::uint8_t ql[128];     ///< low 4 bits
  std::uint8_t qh[64];      ///< high 2 bits
  std::int8_t scales[16];   ///< one signed scale per 16 values
  std::uint16_t d;          ///< super-block scale (f16 bits)
};
static_assert(sizeof(block_q6_k) == 210);

/// True for the types quantize_row / dequantize_row accept (F32, F16, BF16, Q8_0, Q4_0,
/// Q4_K, Q6_K).
[[nodiscard]] bool is_kernel_type(tensor_type t);

/// Quantizes `n` floats into `dst` (row_bytes(t, n) bytes) in the layout GGUF stores.
/// Preconditions (bugs otherwise): is_kernel_type(t), n a multiple of the block size.
/// Q8_0 and Q4_0 give the same bytes as ggml's reference quantizer; Q4_K and Q6_K use a
/// simpler min/max search than ggml (valid blocks, slightly larger error).
void quantize_row(tensor_type t, const float* src, void* dst, std::size_t n);

/// Expands `n` values of type `t` from `src` into floats (fast path; same results as the
/// reference). Preconditions as for quantize_row.
void dequantize_row(tensor_type t, const void* src, float* dst, std::size_t n);

namespace reference {
/// Plain scalar dequantization: the test oracle for every faster path.
void dequantize_row(tensor_type t, const void* src, float* dst, std::size_t n);
/// Plain scalar quantization (what quantize_row runs).
void quantize_row(tensor_type t, const float* src, void* dst, std::size_t n);
} // namespace reference

} // namespace troupe::inference
