#include <doctest/doctest.h>

#include <troupe/inference/fp16.hpp>
#include <troupe/inference/quant.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "support/simd_rerun.hpp"

using namespace troupe::inference;

namespace {

std::vector<float> dequant(tensor_type t, const void* src, std::size_t n, bool fast) {
  std::vector<float> out(n);
  if (fast) {
    dequantize_row(t, src, out.data(), n);
  } else {
    reference::dequantize_row(t, src, out.data(), n);
  }
  return out;
}

std::vector<float> gaussian(std::size_t n, unsigned seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Q4_K scale/min packing, written from the layout description in quant.hpp.
void pack_q4_k_scales(const int sc[8], const int m[8], std::uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<std::uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

} // namespace

TEST_CASE("Q8_0 block dequantizes to d * q") {
  block_q8_0 b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<std::int8_t>(4 * j - 127 + (j == 0 ? -1 : 0));
  for (bool fast : {false, true}) {
    const auto y = dequant(tensor_type::q8_0, &b, 32, fast);
    CHECK(y[0] == -64.0f);     // q = -128
    CHECK(y[1] == -61.5f);     // q = -123
    CHECK(y[31] == 0.5f * (4 * 31 - 127));
  }
}

TEST_CASE("Q4_0 block: low nibbles first, then high nibbles, minus 8") {
  block_q4_0 b{};
  b.d = 0x3400;  // 0.25
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
  for (bool fast : {false, true}) {
    const auto y = dequant(tensor_type::q4_0, &b, 32, fast);
    CHECK(y[0] == -2.0f);      // nibble 0
    CHECK(y[15] == 1.75f);     // nibble 15
    CHECK(y[16] == 1.75f);     // high nibble of byte 0 = 15
    CHECK(y[31] == -2.0f);     // high nibble of byte 15 = 0
    CHECK(y[5] == 0.25f * (5 - 8));
  }
}

TEST_CASE("Q4_K super-block: 6-bit scales and mins, nibbles in 64-value chunks") {
  block_q4_k b{};
  b.d = 0x3c00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  const int sc[8] = {1, 2, 3, 4, 17, 33, 47, 63};  // >= 16 exercises the split high bits
  const int m[8] = {0, 1, 2, 63, 20, 40, 50, 63};
  pack_q4_k_scales(sc, m, b.scales);
  CHECK(b.scales[1] == (2 | (2 << 6)));  // sc1 = 2, top bits of sc5 = 33 >> 4 = 2
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<std::uint8_t>((i % 16) | ((15 - i % 16) << 4));
  for (bool fast : {false, true}) {
    const auto y = dequant(tensor_type::q4_k, &b, 256, fast);
    // value 64c + l: low nibble of qs[32c + l]; value 64c + 32 + l: its high nibble.
    CHECK(y[0] == 1.0f * 1 * 0 - 0.5f * 0);
    CHECK(y[3] == 1.0f * 1 * 3);
    CHECK(y[32 + 3] == 1.0f * 2 * 12 - 0.5f * 1);
    CHECK(y[64 + 5] == 3.0f * 5 - 0.5f * 2);
    CHECK(y[96 + 5] == 4.0f * 10 - 0.5f * 63);
    CHECK(y[128 + 7] == 17.0f * 7 - 0.5f * 20);
    CHECK(y[160 + 7] == 33.0f * 8 - 0.5f * 40);
    CHECK(y[192 + 15] == 47.0f * 15 - 0.5f * 50);
    CHECK(y[224 + 31] == 63.0f * 0 - 0.5f * 63);
  }
}

TEST_CASE("Q6_K super-block: ql/qh split, signed 16-value scales, offset 32") {
  block_q6_k b{};
  b.d = 0x3800;  // 0.5
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<std::int8_t>(g - 8);
  // q(i) = (i * 7) % 64, packed by the layout in quant.hpp.
  auto q = [](int i) { return (i * 7) % 64; };
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * h + l;
      b.ql[64 * h + l] = static_cast<std::uint8_t>((q(base) & 15) | ((q(base + 64) & 15) << 4));
      b.ql[64 * h + l + 32] = static_cast<std::uint8_t>((q(base + 32) & 15) | ((q(base + 96) & 15) << 4));
      b.qh[32 * h + l] = static_cast<std::uint8_t>((q(base) >> 4) | ((q(base + 32) >> 4) << 2) |
                                                   ((q(base + 64) >> 4) << 4) | ((q(base + 96) >> 4) << 6));
    }
  for (bool fast : {false, true}) {
    const auto y = dequant(tensor_type::q6_k, &b, 256, fast);
    for (int i = 0; i < 256; ++i) {
      INFO("i = " << i);
      REQUIRE(y[i] == 0.5f * static_cast<float>(i / 16 - 8) * static_cast<float>(q(i) - 32));
    }
  }
  // Two values checked against literal numbers, not the formula: i = 0 -> q 0, scale -8;
  // i = 200 -> q = 1400 % 64 = 56, scale 12 - 8 = 4.
  const auto y = dequant(tensor_type::q6_k, &b, 256, false);
  CHECK(y[0] == 0.5f * -8 * -32);
  CHECK(y[200] == 0.5f * 4 * 24);
}

TEST_CASE("Q8_0 and Q4_0 quantization matches ggml's reference rule") {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  block_q8_0 q8{};
  quantize_row(tensor_type::q8_0, x.data(), &q8, 32);
  CHECK(q8.d == f32_to_f16(16.0f / 127.0f));
  CHECK(q8.qs[0] == -127);
  CHECK(q8.qs[16] == 0);
  CHECK(q8.qs[31] == 119);  // round(15 * 127 / 16) = round(119.06)
  CHECK(q8.qs[24] == 64);   // 8 * 127 / 16 = 63.5 rounds away from zero

  block_q4_0 q4{};
  quantize_row(tensor_type::q4_0, x.data(), &q4, 32);  // largest magnitude -16 -> d = 2
  CHECK(f16_to_f32(q4.d) == 2.0f);
  CHECK((q4.qs[0] & 15) == 0);         // -16 / 2 + 8 = 0
  CHECK((q4.qs[0] >> 4) == 8);         // x[16] = 0
  CHECK((q4.qs[15] >> 4) == 15);       // x[31] = 15 -> 15.5 + 0.5 -> 16, clamped to 15
  CHECK((q4.qs[3] & 15) == 2);         // x[3] = -13 -> -6.5 + 8.5 = 2
}

TEST_CASE("quantize then dequantize stays within each format's error bound") {
  const std::size_t n = 4096;
  const auto x = gaussian(n, 42);
  struct expectation {
    tensor_type type;
    double max_rel_rmse;  // rms error / rms value, from the step size of each format
  };
  // Step ~ block range / levels; rms error ~ step / sqrt(12): Q8_0 2.5/127 -> 0.006,
  // Q4_0 2.5/8 -> 0.09, Q4_K ~5/15 -> 0.1, Q6_K 2.5/32 -> 0.023; limits leave ~30% margin.
  for (auto e : {expectation{tensor_type::f16, 5e-4}, expectation{tensor_type::bf16, 4e-3},
                 expectation{tensor_type::q8_0, 0.008}, expectation{tensor_type::q4_0, 0.12},
                 expectation{tensor_type::q4_k, 0.12}, expectation{tensor_type::q6_k, 0.03}}) {
    INFO("type " << traits_of(e.type).name);
    std::vector<std::uint8_t> buf(row_bytes(e.type, n));
    quantize_row(e.type, x.data(), buf.data(), n);
    const auto ref = dequant(e.type, buf.data(), n, false);
    const auto fast = dequant(e.type, buf.data(), n, true);
    CHECK(std::memcmp(ref.data(), fast.data(), n * sizeof(float)) == 0);
    double err2 = 0, val2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      err2 += (ref[i] - x[i]) * (ref[i] - x[i]);
      val2 += x[i] * x[i];
    }
    const double rel = std::sqrt(err2 / val2);
    MESSAGE(traits_of(e.type).name << " relative rms error " << rel);
    CHECK(rel < e.max_rel_rmse);
    CHECK(rel > 0.0);
  }
  // Per-value bound for Q8_0: |x - x'| <= d / 2 with d = max|x_block| / 127 (plus f16 scale).
  std::vector<block_q8_0> q8(n / 32);
  quantize_row(tensor_type::q8_0, x.data(), q8.data(), n);
  const auto y = dequant(tensor_type::q8_0, q8.data(), n, false);
  for (std::size_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    for (int j = 0; j < 32; ++j) REQUIRE(std::fabs(y[32 * b + j] - x[32 * b + j]) <= amax / 127.0f * 0.5f * 1.01f + amax * 1e-3f);
  }
}

TEST_CASE("all-zero and constant rows quantize without NaN") {
  for (tensor_type t : {tensor_type::q8_0, tensor_type::q4_0, tensor_type::q4_k, tensor_type::q6_k}) {
    INFO("type " << traits_of(t).name);
    for (float value : {0.0f, 3.0f, -2.0f}) {
      std::vector<float> x(256, value);
      std::vector<std::uint8_t> buf(row_bytes(t, 256));
      quantize_row(t, x.data(), buf.data(), 256);
      const auto y = dequant(t, buf.data(), 256, false);
      for (float v : y) REQUIRE(std::fabs(v - value) <= std::fabs(value) * 0.05f);
    }
  }
}

TEST_CASE("fast dequantization equals the reference") {
  const auto x = gaussian(1024, 5, 0.1f);
  for (tensor_type t : {tensor_type::f32, tensor_type::f16, tensor_type::bf16, tensor_type::q8_0, tensor_type::q4_0,
                        tensor_type::q4_k, tensor_type::q6_k}) {
    INFO("type " << traits_of(t).name);
    std::vector<std::uint8_t> buf(row_bytes(t, 1024));
    quantize_row(t, x.data(), buf.data(), 1024);
    CHECK(dequant(t, buf.data(), 1024, true) == dequant(t, buf.data(), 1024, false));
  }
}

TEST_CASE("fast dequantization equals the reference on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << simd);
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "fast dequantization equals the reference", out), out);
  }
}
