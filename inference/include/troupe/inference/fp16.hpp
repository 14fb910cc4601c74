// Half-precision conversions: IEEE binary16 (F16) and bfloat16 (BF16) to and from f32.
// Scalar functions are exact (round-to-nearest-even, NaN stays NaN, Inf stays Inf, denormals
// handled); the row functions do the same over arrays using F16C / AVX-512 when the CPU has it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace troupe::inference {

/// Widens an IEEE half (bits) to f32; exact for every input.
[[nodiscard]] inline float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // Inf or NaN (payload kept)
    if (mant != 0) bits |= 0x400000u;            // NaN comes out quiet, as F16C does
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // Denormal: value = mant * 2^-24; normalise the mantissa.
    std::uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

/// Narrows f32 to an IEEE half (bits), rounding to nearest even; overflow gives Inf, NaN
/// stays a (quiet) NaN, tiny values become denormals or zero.
[[nodiscard]] inline std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // Inf or NaN
    if (a == 0x7f800000u) return sign | 0x7c00u;
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  }
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {                        // below the smallest normal half (2^-14)
    if (a <= 0x33000000u) return sign;          // <= 2^-25 rounds to zero (tie to even)
    const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - (a >> 23);  // value * 2^24 = m >> shift
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    std::uint32_t r = m >> shift;
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t h = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3ffu);
  const std::uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent
  return static_cast<std::uint16_t>(sign | h);
}

/// Widens a bfloat16 (bits) to f32; exact.
[[nodiscard]] inline float bf16_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

/// Narrows f32 to bfloat16 (bits), rounding to nearest even; NaN stays a quiet NaN.
[[nodiscard]] inline std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/// Converts `n` halves to f32 (F16C / AVX-512 when available).
void f16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n);
/// Converts `n` floats to halves, rounding to nearest even.
void f32_to_f16_row(const float* src, std::uint16_t* dst, std::size_t n);
/// Converts `n` bfloat16 values to f32.
void bf16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n);
/// Converts `n` floats to bfloat16, rounding to nearest even (NaN stays NaN).
void f32_to_bf16_row(const float* src, std::uint16_t* dst, std::size_t n);

} // namespace troupe::inference
