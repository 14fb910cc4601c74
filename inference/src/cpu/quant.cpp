// Public (de)quantization entry points: F16/BF16 rows use the SIMD conversions, Q4_K/Q6_K
// the SIMD dequantizers where available; everything else is the reference code.
#include "troupe/inference/quant.hpp"

#include <cstring>

#include "cpu/isa.hpp"
#include "troupe/inference/cpu_features.hpp"
#include "troupe/inference/fp16.hpp"

namespace troupe::inference {

bool is_kernel_type(tensor_type t) {
  switch (t) {
    case tensor_type::f32:
    case tensor_type::f16:
    case tensor_type::bf16:
    case tensor_type::q8_0:
    case tensor_type::q4_0:
    case tensor_type::q4_k:
    case tensor_type::q6_k: return true;
    default: return false;
  }
}

void quantize_row(tensor_type t, const float* src, void* dst, std::size_t n) {
  switch (t) {
    case tensor_type::f16: return f32_to_f16_row(src, static_cast<std::uint16_t*>(dst), n);
    case tensor_type::bf16: return f32_to_bf16_row(src, static_cast<std::uint16_t*>(dst), n);
    default: return reference::quantize_row(t, src, dst, n);
  }
}

void dequantize_row(tensor_type t, const void* src, float* dst, std::size_t n) {
  const auto& cpu = host_cpu_features();
  switch (t) {
    case tensor_type::f16: return f16_to_f32_row(static_cast<const std::uint16_t*>(src), dst, n);
    case tensor_type::bf16: return bf16_to_f32_row(static_cast<const std::uint16_t*>(src), dst, n);
    case tensor_type::q4_k:
      if (cpu.avx512) return avx512::dequantize_q4_k(src, dst, n);
      if (cpu.avx2) return avx2::dequantize_q4_k(src, dst, n);
      return scalar::dequantize_q4_k(src, dst, n);
    case tensor_type::q6_k:
      if (cpu.avx512) return avx512::dequantize_q6_k(src, dst, n);
      if (cpu.avx2) return avx2::dequantize_q6_k(src, dst, n);
      return scalar::dequantize_q6_k(src, dst, n);
    default: return reference::dequantize_row(t, src, dst, n);
  }
}

} // namespace troupe::inference
