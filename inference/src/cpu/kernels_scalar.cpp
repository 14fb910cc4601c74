// Portable scalar kernels: the path taken without AVX2 (or with TROUPE_SIMD=scalar). Same
// arithmetic as the SIMD kernels (f32 accumulation; int8 activations for Q8_0/Q4_0).
#include <algorithm>
#include <cmath>

#include "cpu/isa.hpp"
#include "troupe/inference/fp16.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::scalar {

void f16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
void f32_to_f16_row(const float* src, std::uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}
void bf16_to_f32_row(const std::uint16_t* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}
void f32_to_bf16_row(const float* src, std::uint16_t* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

namespace {

struct load_f32 {
  static float at(const std::uint8_t* row, std::size_t i) {
    return reinterpret_cast<const float*>(row)[i];
  }
};
struct load_f16 {
  static float at(const std::uint8_t* row, std::size_t i) {
    return f16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[i]);
  }
};
struct load_bf16 {
  static float at(const std::uint8_t* row, std::size_t i) {
    return bf16_to_f32(reinterpret_cast<const std::uint16_t*>(row)[i]);
  }
};

template <class Load>
void tile_float(const tile_args& a, const float* x, std::size_t x_stride) {
  for (std::size_t r = 0; r < a.n_rows; ++r) {
    const std::uint8_t* row = a.w + r * a.w_stride;
    for (std::size_t t = 0; t < a.n_tok; ++t) {
      const float* xt = x + t * x_stride;
      float acc[4] = {0, 0, 0, 0};
      std::size_t i = 0;
      for (; i + 4 <= a.k; i += 4)
        for (int j = 0; j < 4; ++j) acc[j] += Load::at(row, i + j) * xt[i + j];
      for (; i < a.k; ++i) acc[0] += Load::at(row, i) * xt[i];
      a.y[t * a.y_stride + r] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  }
}

} // namespace

void tile_f32(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f32>(a, x, s); }
void tile_f16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_f16>(a, x, s); }
void tile_bf16(const tile_args& a, const float* x, std::size_t s) { tile_float<load_bf16>(a, x, s); }

void tile_q8_0(const tile_args& a, const act_q8& x) {
  const std::size_t nb = a.k / 32;
  for (std::size_t r = 0; r < a.n_rows; ++r) {
    const auto* w = reinterpret_cast<const block_q8_0*>(a.w + r * a.w_stride);
    for (std::size_t t = 0; t < a.n_tok; ++t) {
      const std::int8_t* q = x.qs + t * a.k;
      const float* d = x.d + t * nb;
      float acc = 0.0f;
      for (std::size_t b = 0; b < nb; ++b) {
        std::int32_t dot = 0;
        for (int j = 0; j < 32; ++j) dot += w[b].qs[j] * q[32 * b + j];
        acc += f16_to_f32(w[b].d) * d[b] * static_cast<float>(dot);
      }
      a.y[t * a.y_stride + r] = acc;
    }
  }
}

void tile_q4_0(const tile_args& a, const act_q8& x) {
  const std::size_t nb = a.k / 32;
  for (std::size_t r = 0; r < a.n_rows; ++r) {
    const auto* w = reinterpret_cast<const block_q4_0*>(a.w + r * a.w_stride);
    for (std::size_t t = 0; t < a.n_tok; ++t) {
      const std::int8_t* q = x.qs + t * a.k;
      const float* d = x.d + t * nb;
      const std::int32_t* sum = x.sum + t * nb;
      float acc = 0.0f;
      for (std::size_t b = 0; b < nb; ++b) {
        std::int32_t dot = 0;
        for (int j = 0; j < 16; ++j)
          dot += (w[b].qs[j] & 15) * q[32 * b + j] + (w[b].qs[j] >> 4) * q[32 * b + j + 16];
        acc += f16_to_f32(w[b].d) * d[b] * static_cast<float>(dot - 8 * sum[b]);
      }
      a.y[t * a.y_stride + r] = acc;
    }
  }
}

void quantize_act(const float* x, std::size_t n_blocks, std::int8_t* qs, float* d, std::int32_t* sum,
                  std::int32_t* sum16) {
  for (std::size_t b = 0; b < n_blocks; ++b, x += 32, qs += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    d[b] = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    std::int32_t s[2] = {0, 0};
    for (int j = 0; j < 32; ++j) {
      // 1.5 * 2^23 trick: adding and subtracting it rounds to nearest even, like cvtps2dq.
      const float r = (x[j] * id + 12582912.0f) - 12582912.0f;
      qs[j] = static_cast<std::int8_t>(r);
      s[j / 16] += qs[j];
    }
    sum16[2 * b] = s[0];
    sum16[2 * b + 1] = s[1];
    sum[b] = s[0] + s[1];
  }
}

void dequantize_q4_k(const void* src, float* y, std::size_t n) {
  const auto* x = static_cast<const block_q4_k*>(src);
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    const std::uint8_t* s = x[b].scales;
    for (int j = 0; j < 8; j += 2) {
      const std::uint8_t* q = x[b].qs + 16 * j;
      for (int h = 0; h < 2; ++h) {
        const int i = j + h;
        const int sc = i < 4 ? (s[i] & 63) : ((s[i + 4] & 15) | ((s[i - 4] >> 6) << 4));
        const int m = i < 4 ? (s[i + 4] & 63) : ((s[i + 4] >> 4) | ((s[i] >> 6) << 4));
        const float ds = d * static_cast<float>(sc), dm = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) *y++ = ds * static_cast<float>((q[l] >> (4 * h)) & 15) - dm;
      }
    }
  }
}

void dequantize_q6_k(const void* src, float* y, std::size_t n) {
  const auto* x = static_cast<const block_q6_k*>(src);
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = f16_to_f32(x[b].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const std::uint8_t* ql = x[b].ql + 64 * h;
      const std::uint8_t* qh = x[b].qh + 32 * h;
      const std::int8_t* sc = x[b].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int g = l / 16;
        y[l] = d * sc[g] * static_cast<float>(((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
        y[l + 32] = d * sc[g + 2] * static_cast<float>(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
        y[l + 64] = d * sc[g + 4] * static_cast<float>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        y[l + 96] = d * sc[g + 6] * static_cast<float>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

} // namespace troupe::inference::scalar
