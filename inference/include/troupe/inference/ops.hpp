// The element-wise and per-row operations of a Llama-family forward pass. Each works on
// plain float arrays; shapes are in the comments. All but rope take a SIMD path when the CPU
// has one (softmax, silu, swiglu: a vectorised exp within ~2 ulp of std::exp): in decode they
// run on one thread between the parallel weight products, and the plain loops (which -O2
// leaves scalar) took several microseconds per layer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace troupe::inference {

/// out(n) = x / sqrt(mean(x^2) + eps) * weight. `out` may alias `x`.
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps);

/// What softmax subtracted and scaled by: the largest x and 1 / sum(exp(x - max)), which is
/// also what the largest element became.
struct softmax_stats {
  float max, inv_sum;
};

/// In-place softmax over x(n), computed stably (max subtracted first). n >= 1.
softmax_stats softmax(float* x, std::size_t n);

/// out(n) = x * sigmoid(x). `out` may alias `x`.
void silu(float* out, const float* x, std::size_t n);

/// out(n) = silu(gate) * up (the SwiGLU feed-forward gate). `out` may alias either input.
void swiglu(float* out, const float* gate, const float* up, std::size_t n);

/// out(n) = a + b. `out` may alias either input.
void add(float* out, const float* a, const float* b, std::size_t n);

/// y(n) += alpha * x. x and y do not overlap.
void axpy(float* y, float alpha, const float* x, std::size_t n);

/// How RoPE pairs the dimensions of a head.
enum class rope_style {
  adjacent,  ///< (x[2i], x[2i+1]) rotate together: llama (llama.cpp's "normal" rope)
  halves,    ///< (x[i], x[i + d/2]) rotate together: qwen2, GPT-NeoX
};

/// Rotary position embedding in place over x(n_heads, head_dim) for position `pos`: pair i
/// (0 <= i < head_dim/2) turns by the angle pos * theta^(-2i/head_dim). head_dim is even.
void rope(float* x, std::size_t n_heads, std::size_t head_dim, std::size_t pos, float theta, rope_style style);

/// sum_i f16(a[i]) * b[i] over n values (a: F16 bits, e.g. a cached key row).
[[nodiscard]] float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);

/// y(n) += alpha * f16(x) (x: F16 bits, e.g. a cached value row).
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);

/// Attention scores of n_q query heads against n F16 key rows (row j at keys + j * key_stride):
/// scores[i * scores_stride + j] = scale * dot(f16(key j), q + i * hd), for i < n_q, j < n.
void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride);

/// Weighted sum of n F16 value rows for n_q heads: out[i * hd + d] += sum_j p[i * p_stride + j] *
/// f16(values[j * value_stride + d]), for i < n_q, d < hd.
void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out);

namespace reference {
/// Plain scalar versions (std::exp), kept as the test oracle of the SIMD ones.
void rmsnorm(float* out, const float* x, const float* weight, std::size_t n, float eps);
void add(float* out, const float* a, const float* b, std::size_t n);
void axpy(float* y, float alpha, const float* x, std::size_t n);
softmax_stats softmax(float* x, std::size_t n);
void silu(float* out, const float* x, std::size_t n);
void swiglu(float* out, const float* gate, const float* up, std::size_t n);
float dot_f16(const std::uint16_t* a, const float* b, std::size_t n);
void axpy_f16(float* y, float alpha, const std::uint16_t* x, std::size_t n);
void attn_scores_f16(const std::uint16_t* keys, std::size_t key_stride, std::size_t n, const float* q,
                     std::size_t n_q, std::size_t hd, float scale, float* scores, std::size_t scores_stride);
void attn_values_f16(const std::uint16_t* values, std::size_t value_stride, std::size_t n, const float* p,
                     std::size_t p_stride, std::size_t n_q, std::size_t hd, float* out);
void rope(float* x, std::size_t n_heads, std::size_t head_dim, std::size_t pos, float theta, rope_style style);
} // namespace reference

} // namespace troupe::inference
