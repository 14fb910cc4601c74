// Float conversions used by the model generator: f32 to f16 / bf16 with round-to-nearest-even.
// Kept in one place so a shared implementation (e.g. the kernels' own) can replace it.
#pragma once

#include <cstdint>
#include <cstring>

namespace troupe::inference::gguf_fp {

/// IEEE binary16 bits of `f`, rounded to nearest even (overflow to inf, NaN stays NaN).
inline std::uint16_t f32_to_f16_rne(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;          // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;         // >= 65520 rounds to inf
  if (a < 0x38800000u) {                               // below 2^-14: f16 subnormal or zero
    float v = 0;
    std::memcpy(&v, &a, 4);
    // v * 2^24 is exact; adding and subtracting 2^23 rounds it to an integer, nearest even.
    const float scaled = v * 16777216.0f;
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<std::uint16_t>(rounded);
  }
  std::uint32_t r = a - 0x38000000u;                   // rebias exponent 127 -> 15
  r += 0xfffu + ((r >> 13) & 1u);                      // round to nearest even at bit 13
  return sign | static_cast<std::uint16_t>(r >> 13);
}

/// bfloat16 bits of `f`, rounded to nearest even (NaN stays NaN).
inline std::uint16_t f32_to_bf16_rne(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

} // namespace troupe::inference::gguf_fp
