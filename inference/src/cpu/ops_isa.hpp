// Private: SIMD versions of the ops in ops.hpp (ops_avx2.cpp / ops_avx512.cpp). They use
// a vectorised expf (Cody-Waite reduction + cephes polynomial, about 1 ulp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "troupe/inference/ops.hpp"

namespace troupe::inference {
namespace avx2 {
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps);
void add(float* out, const float* a, const float* b, std::size_t n);
void axpy(float* y, float alpha, const float* x, std::size_t n);
float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);
softmax_stats softmax(float* x, std::size_t n);
void silu(float* out, const float* x, std::size_t n);
void swiglu(float* out, const float* gate, const float* up, std::size_t n);
} // namespace avx2
namespace avx512 {
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps);
void add(float* out, const float* a, const float* b, std::size_t n);
void axpy(float* y, float alpha, const float* x, std::size_t n);
float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);
softmax_stats softmax(float* x, std::size_t n);
void silu(float* out, const float* x, std::size_t n);
void swiglu(float* out, const float* gate, const float* up, std::size_t n);
void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride);
void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out);
} // namespace avx512
} // namespace troupe::inference
