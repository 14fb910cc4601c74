// Plain scalar quantization and dequantization of the GGUF block formats: the reference the
// fast paths are tested against. Layouts are documented in troupe/inference/quant.hpp.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "troupe/inference/fp16.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference::reference {

namespace {

void quantize_q8_0(const float* x, block_q8_0* y, std::size_t n) {
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) y[b].qs[j] = static_cast<std::int8_t>(std::round(x[j] * id));
  }
}

void quantize_q4_0(const float* x, block_q4_0* y, std::size_t n) {
  for (std::size_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f, max = 0.0f;  // largest magnitude, with its sign
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
      // Truncation after +8.5 rounds to nearest; the extreme maps to 0, its negation to 16.
      const auto lo = std::min<int>(15, static_cast<std::int8_t>(x[j] * id + 8.5f));
      const auto hi = std::min<int>(15, static_cast<std::int8_t>(x[j + 16] * id + 8.5f));
      y[b].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }
}

int clamp_int(float v, int lo, int hi) {
  return std::clamp(static_cast<int>(std::lround(v)), lo, hi);
}

// Min/max quantization of each 32-value sub-block: mins rounded up and scales chosen to
// cover the maximum, so no value is clamped by more than the scale rounding.
void quantize_q4_k(const float* x, block_q4_k* y, std::size_t n) {
  for (std::size_t b = 0; b < n / qk_k; ++b, x += qk_k) {
    float scale[8], min[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      float lo = x[32 * j], hi = x[32 * j];
      for (int l = 1; l < 32; ++l) {
        lo = std::min(lo, x[32 * j + l]);
        hi = std::max(hi, x[32 * j + l]);
      }
      lo = std::min(lo, 0.0f);
      min[j] = -lo;
      scale[j] = (hi - lo) / 15.0f;
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    const float d = f16_to_f32(f32_to_f16(max_scale / 63.0f));
    const float dmin = f16_to_f32(f32_to_f16(max_min / 63.0f));
    y[b].d = f32_to_f16(d);
    y[b].dmin = f32_to_f16(dmin);
    std::uint8_t sc[8], mq[8];
    for (int j = 0; j < 8; ++j) {
      mq[j] = dmin > 0.0f ? static_cast<std::uint8_t>(std::min(63.0f, std::ceil(min[j] / dmin))) : 0;
      const float m_eff = dmin * mq[j];
      float hi = x[32 * j];
      for (int l = 1; l < 32; ++l) hi = std::max(hi, x[32 * j + l]);
      const float need = (hi + m_eff) / 15.0f;
      sc[j] = d > 0.0f ? static_cast<std::uint8_t>(std::clamp(std::ceil(need / d - 1e-4f), 0.0f, 63.0f)) : 0;
    }
    std::memset(y[b].scales, 0, sizeof y[b].scales);
    for (int j = 0; j < 4; ++j) {
      y[b].scales[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
      y[b].scales[j + 4] = static_cast<std::uint8_t>((mq[j] & 63) | ((mq[j + 4] >> 4) << 6));
      y[b].scales[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((mq[j + 4] & 15) << 4));
    }
    for (int j = 0; j < 8; ++j) {
      const float ds = d * sc[j], dm = dmin * mq[j];
      for (int l = 0; l < 32; ++l) {
        const int q = ds > 0.0f ? clamp_int((x[32 * j + l] + dm) / ds, 0, 15) : 0;
        auto& byte = y[b].qs[32 * (j / 2) + l];
        byte = static_cast<std::uint8_t>((j % 2 == 0) ? ((byte & 0xf0) | q) : ((byte & 0x0f) | (q << 4)));
      }
    }
  }
}

// Each 16-value group gets the scale that maps its largest magnitude to -32 (as ggml does),
// then the 16 group scales are quantized to int8 against one f16 super-scale.
void quantize_q6_k(const float* x, block_q6_k* y, std::size_t n) {
  for (std::size_t b = 0; b < n / qk_k; ++b, x += qk_k) {
    float scale[16], amax_scale = 0.0f;
    for (int g = 0; g < 16; ++g) {
      float amax = 0.0f, max = 0.0f;
      for (int l = 0; l < 16; ++l) {
        if (amax < std::fabs(x[16 * g + l])) {
          amax = std::fabs(x[16 * g + l]);
          max = x[16 * g + l];
        }
      }
      scale[g] = max / -32.0f;
      amax_scale = std::max(amax_scale, std::fabs(scale[g]));
    }
    const float d = f16_to_f32(f32_to_f16(amax_scale / 127.0f));
    y[b].d = f32_to_f16(d);
    std::uint8_t q[qk_k];
    for (int g = 0; g < 16; ++g) {
      y[b].scales[g] = static_cast<std::int8_t>(d > 0.0f ? clamp_int(scale[g] / d, -127, 127) : 0);
      const float ds = d * y[b].scales[g];
      for (int l = 0; l < 16; ++l)
        q[16 * g + l] = static_cast<std::uint8_t>(
            (ds != 0.0f ? clamp_int(x[16 * g + l] / ds, -32, 31) : 0) + 32);
    }
    for (int h = 0; h < 2; ++h) {
      const std::uint8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        y[b].ql[64 * h + l] = static_cast<std::uint8_t>((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
        y[b].ql[64 * h + l + 32] = static_cast<std::uint8_t>((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
        y[b].qh[32 * h + l] = static_cast<std::uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                                        ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
      }
    }
  }
}

void dequantize_q8_0(const block_q8_0* x, float* y, std::size_t n) {
  for (std::size_t b = 0; b < n / 32; ++b) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < 32; ++j) *y++ = d * static_cast<float>(x[b].qs[j]);
  }
}

void dequantize_q4_0(const block_q4_0* x, float* y, std::size_t n) {
  for (std::size_t b = 0; b < n / 32; ++b, y += 32) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((x[b].qs[j] & 15) - 8);
      y[j + 16] = d * static_cast<float>((x[b].qs[j] >> 4) - 8);
    }
  }
}

void dequantize_q4_k(const block_q4_k* x, float* y, std::size_t n) {
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    const std::uint8_t* s = x[b].scales;
    for (int j = 0; j < 8; ++j) {
      const int sc = j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
      const int m = j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
      const float ds = d * static_cast<float>(sc), dm = dmin * static_cast<float>(m);
      const std::uint8_t* q = x[b].qs + 32 * (j / 2);
      const int shift = (j % 2) * 4;
      for (int l = 0; l < 32; ++l) *y++ = ds * static_cast<float>((q[l] >> shift) & 15) - dm;
    }
  }
}

void dequantize_q6_k(const block_q6_k* x, float* y, std::size_t n) {
  for (std::size_t b = 0; b < n / qk_k; ++b) {
    const float d = f16_to_f32(x[b].d);
    for (int i = 0; i < 256; ++i) {
      const int h = i / 128, r = i % 128, k = r / 32, l = r % 32;
      const std::uint8_t lo_byte = x[b].ql[64 * h + l + 32 * (k & 1)];
      const int lo = k < 2 ? (lo_byte & 15) : (lo_byte >> 4);
      const int hi = (x[b].qh[32 * h + l] >> (2 * k)) & 3;
      const float ds = d * static_cast<float>(x[b].scales[i / 16]);
      *y++ = ds * static_cast<float>((lo | (hi << 4)) - 32);
    }
  }
}

} // namespace

void quantize_row(tensor_type t, const float* src, void* dst, std::size_t n) {
  switch (t) {
    case tensor_type::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case tensor_type::f16:
      for (std::size_t i = 0; i < n; ++i) static_cast<std::uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case tensor_type::bf16:
      for (std::size_t i = 0; i < n; ++i) static_cast<std::uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case tensor_type::q8_0: return quantize_q8_0(src, static_cast<block_q8_0*>(dst), n);
    case tensor_type::q4_0: return quantize_q4_0(src, static_cast<block_q4_0*>(dst), n);
    case tensor_type::q4_k: return quantize_q4_k(src, static_cast<block_q4_k*>(dst), n);
    case tensor_type::q6_k: return quantize_q6_k(src, static_cast<block_q6_k*>(dst), n);
    default: assert(false && "quantize_row: unsupported type"); return;
  }
}

void dequantize_row(tensor_type t, const void* src, float* dst, std::size_t n) {
  switch (t) {
    case tensor_type::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case tensor_type::f16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const std::uint16_t*>(src)[i]);
      return;
    case tensor_type::bf16:
      for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const std::uint16_t*>(src)[i]);
      return;
    case tensor_type::q8_0: return dequantize_q8_0(static_cast<const block_q8_0*>(src), dst, n);
    case tensor_type::q4_0: return dequantize_q4_0(static_cast<const block_q4_0*>(src), dst, n);
    case tensor_type::q4_k: return dequantize_q4_k(static_cast<const block_q4_k*>(src), dst, n);
    case tensor_type::q6_k: return dequantize_q6_k(static_cast<const block_q6_k*>(src), dst, n);
    default: assert(false && "dequantize_row: unsupported type"); return;
  }
}

} // namespace troupe::inference::reference
