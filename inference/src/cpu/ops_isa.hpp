// Private: SIMD versions of the F16 helpers in ops.hpp (ops_avx2.cpp / ops_avx512.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace troupe::inference {
namespace avx2 {
float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);
} // namespace avx2
namespace avx512 {
float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);
} // namespace avx512
} // namespace troupe::inference
