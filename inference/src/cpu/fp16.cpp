// Row conversions between f32 and F16/BF16: scalar loops plus run-time dispatch to the
// AVX2 (F16C) and AVX-512 versions in fp16_avx2.cpp / fp16_avx512.cpp.
#include "troupe/inference/fp16.hpp"

#include "cpu/isa.hpp"
#include "troupe/inference/cpu_features.hpp"

namespace troupe::inference {

void f16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n) {
  const auto& cpu = host_cpu_features();
  if (cpu.avx512) return avx512::f16_to_f32_row(src, dst, n);
  if (cpu.avx2) return avx2::f16_to_f32_row(src, dst, n);
  scalar::f16_to_f32_row(src, dst, n);
}

void f32_to_f16_row(const float* src, std::uint16_t* dst, std::size_t n) {
  const auto& cpu = host_cpu_features();
  if (cpu.avx512) return avx512::f32_to_f16_row(src, dst, n);
  if (cpu.avx2) return avx2::f32_to_f16_row(src, dst, n);
  scalar::f32_to_f16_row(src, dst, n);
}

void bf16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n) {
  const auto& cpu = host_cpu_features();
  if (cpu.avx512) return avx512::bf16_to_f32_row(src, dst, n);
  if (cpu.avx2) return avx2::bf16_to_f32_row(src, dst, n);
  scalar::bf16_to_f32_row(src, dst, n);
}

void f32_to_bf16_row(const float* src, std::uint16_t* dst, std::size_t n) {
  const auto& cpu = host_cpu_features();
  if (cpu.avx512) return avx512::f32_to_bf16_row(src, dst, n);
  if (cpu.avx2) return avx2::f32_to_bf16_row(src, dst, n);
  scalar::f32_to_bf16_row(src, dst, n);
}

} // namespace troupe::inference
