// Forward-pass ops: each dispatched once to AVX-512 or AVX2 where the CPU has them, else the
// plain loops of namespace reference (also the SIMD versions' test oracle); the decode
// attention loops to AVX-512 only.
#include "troupe/inference/ops.hpp"

#include <cmath>

#include "cpu/ops_isa.hpp"
#include "troupe/inference/cpu_features.hpp"
#include "troupe/inference/fp16.hpp"

namespace troupe::inference {

namespace {

struct op_set {
  void (*rmsnorm)(float*, const float*, const float*, std::size_t, float);
  void (*add)(float*, const float*, const float*, std::size_t);
  void (*axpy)(float*, float, const float*, std::size_t);
  float (*dot_f16)(const std::uint16_t*, const float*, std::size_t);
  void (*axpy_f16)(float*, float, const std::uint16_t*, std::size_t);
  softmax_stats (*softmax)(float*, std::size_t);
  void (*silu)(float*, const float*, std::size_t);
  void (*swiglu)(float*, const float*, const float*, std::size_t);
  // nullptr: the row-at-a-time loops below, over dot_f16 / axpy_f16
  void (*attn_scores_f16)(const std::uint16_t*, std::size_t, std::size_t, const float*, std::size_t, std::size_t,
                          float, float*, std::size_t) = nullptr;
  void (*attn_values_f16)(const std::uint16_t*, std::size_t, std::size_t, const float*, std::size_t, std::size_t,
                          std::size_t, float*) = nullptr;
};

const op_set& ops() {
  static const op_set set = [] {
    const auto& cpu = host_cpu_features();
    if (cpu.avx512)
      return op_set{avx512::rmsnorm,  avx512::add,      avx512::axpy,   avx512::dot_f16,
                    avx512::axpy_f16, avx512::softmax,  avx512::silu,   avx512::swiglu,
                    avx512::attn_scores_f16, avx512::attn_values_f16};
    if (cpu.avx2)
      return op_set{avx2::rmsnorm,  avx2::add,     avx2::axpy, avx2::dot_f16,
                    avx2::axpy_f16, avx2::softmax, avx2::silu, avx2::swiglu};
    return op_set{reference::rmsnorm,  reference::add,     reference::axpy, reference::dot_f16,
                  reference::axpy_f16, reference::softmax, reference::silu, reference::swiglu};
  }();
  return set;
}

} // namespace

void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps) {
  ops().rmsnorm(out, x, weight, n, eps);
}

softmax_stats softmax(float* x, std::size_t n) { return ops().softmax(x, n); }

void silu(float* out, const float* x, std::size_t n) { ops().silu(out, x, n); }

void swiglu(float* out, const float* gate, const float* up, std::size_t n) { ops().swiglu(out, gate, up, n); }

void add(float* out, const float* a, const float* b, std::size_t n) { ops().add(out, a, b, n); }

void axpy(float* y, float alpha, const float* x, std::size_t n) { ops().axpy(y, alpha, x, n); }

void rope(float* x, std::size_t n_heads, std::size_t head_dim, std::size_t pos, float theta, rope_style style) {
  reference::rope(x, n_heads, head_dim, pos, theta, style);
}

float dot_f16(const std::uint16_t* a, const float* b, std::size_t n) { return ops().dot_f16(a, b, n); }

void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n) { ops().axpy_f16(y, alpha, x, n); }

void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride) {
  const op_set& o = ops();
  if (o.attn_scores_f16 != nullptr) return o.attn_scores_f16(keys, key_stride, n, q, n_q, hd, scale, scores, scores_stride);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) scores[i * scores_stride + j] = o.dot_f16(keys + j * key_stride, q + i * hd, hd) * scale;
}

void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out) {
  const op_set& o = ops();
  if (o.attn_values_f16 != nullptr) return o.attn_values_f16(values, value_stride, n, p, p_stride, n_q, hd, out);
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) o.axpy_f16(out + i * hd, p[i * p_stride + j], values + j * value_stride, hd);
}

namespace reference {

void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps) {
  // Four partial sums in double (one chain of n dependent adds was a serial bottleneck).
  double s4[4] = {};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t j = 0; j < 4; ++j) s4[j] += static_cast<double>(x[i + j]) * x[i + j];
  for (; i < n; ++i) s4[0] += static_cast<double>(x[i]) * x[i];
  const double ss = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  const auto scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void add(float* out, const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void axpy(float* y, float alpha, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

softmax_stats softmax(float* x, std::size_t n) {
  float max = x[0];
  for (std::size_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (std::size_t i = 0; i < n; ++i) x[i] *= inv;
  return {max, inv};
}

void silu(float* out, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void swiglu(float* out, const float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

float dot_f16(const std::uint16_t* a, const float* b, std::size_t n) {
  float acc = 0.0f;
  for (std::size_t i = 0; i < n; ++i) acc += f16_to_f32(a[i]) * b[i];
  return acc;
}

void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += alpha * f16_to_f32(x[i]);
}

void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride) {
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) scores[i * scores_stride + j] = dot_f16(keys + j * key_stride, q + i * hd, hd) * scale;
}

void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out) {
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < n_q; ++i) axpy_f16(out + i * hd, p[i * p_stride + j], values + j * value_stride, hd);
}

void rope(float* x, std::size_t n_heads, std::size_t head_dim, std::size_t pos, float theta, rope_style style) {
  const std::size_t half = head_dim / 2;
  for (std::size_t i = 0; i < half; ++i) {
    // Angles in double: pos * theta^(-2i/d) reaches ~1e5 rad at long contexts.
    const double angle = static_cast<double>(pos) * std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const auto c = static_cast<float>(std::cos(angle)), s = static_cast<float>(std::sin(angle));
    const std::size_t i0 = style == rope_style::adjacent ? 2 * i : i;
    const std::size_t i1 = style == rope_style::adjacent ? 2 * i + 1 : i + half;
    for (std::size_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const float a = v[i0], b = v[i1];
      v[i0] = a * c - b * s;
      v[i1] = a * s + b * c;
    }
  }
}

} // namespace reference

} // namespace troupe::inference
