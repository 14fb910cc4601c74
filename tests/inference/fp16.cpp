#include <doctest/doctest.h>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/fp16.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "support/simd_rerun.hpp"

using namespace troupe::inference;

namespace {

// The compiler's own binary16 type is the oracle for rounding f32 to f16.
std::uint16_t compiler_f16(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  return std::bit_cast<std::uint16_t>(h);
}

bool is_nan16(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

// Interesting f32 inputs: every half and its neighbours, ties, overflow and underflow edges.
std::vector<float> edge_floats() {
  std::vector<float> v;
  for (std::uint32_t h = 0; h < 0x10000; h += 7) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    const auto bits = std::bit_cast<std::uint32_t>(f);
    for (std::uint32_t d : {0u, 1u, 0xfffu, 0x1000u, 0x1001u}) {
      v.push_back(std::bit_cast<float>(bits + d));
      v.push_back(std::bit_cast<float>(bits - d));
    }
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e10f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 1e-30f,
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min()}) {
    v.push_back(f);
    v.push_back(-f);
  }
  return v;
}

} // namespace

TEST_CASE("f16 to f32 is exact and round-trips for every half") {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = f16_to_f32(bits);
    CHECK(std::bit_cast<std::uint32_t>(f) == std::bit_cast<std::uint32_t>(static_cast<float>(std::bit_cast<_Float16>(bits))));
    if (is_nan16(bits)) {
      REQUIRE(std::isnan(f));
      CHECK(is_nan16(f32_to_f16(f)));
    } else {
      REQUIRE(f32_to_f16(f) == bits);
    }
  }
}

TEST_CASE("f32 to f16 rounds to nearest even like the compiler") {
  for (float f : edge_floats()) {
    INFO("f = " << f);
    REQUIRE(f32_to_f16(f) == compiler_f16(f));
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (std::isnan(f)) {
      CHECK(is_nan16(f32_to_f16(f)));
      continue;
    }
    REQUIRE(f32_to_f16(f) == compiler_f16(f));
  }
  CHECK(f32_to_f16(65520.0f) == 0x7c00);  // the tie above the largest half goes to Inf
  CHECK(f32_to_f16(2.9802322e-8f) == 0);  // 2^-25: tie between 0 and the smallest denormal
  CHECK(f32_to_f16(-0.0f) == 0x8000);
}

TEST_CASE("bf16 rounding is nearest even and keeps NaN") {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f808000u)) == 0x3f80);  // tie, even stays
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f818000u)) == 0x3f82);  // tie, odd rounds up
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3f808001u)) == 0x3f81);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x7f7fffffu)) == 0x7f80);  // max float rounds to Inf
  CHECK(f32_to_bf16(std::bit_cast<float>(0x00000001u)) == 0x0000);  // tiny denormal
  CHECK(f32_to_bf16(std::bit_cast<float>(0x00018000u)) == 0x0002);  // denormal tie, odd rounds up
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7f800001u)))));  // payload only in low bits
  std::mt19937 rng(11);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    const std::uint16_t b = f32_to_bf16(f);
    if (std::isnan(f)) {
      REQUIRE(std::isnan(bf16_to_f32(b)));
      continue;
    }
    // The result is the nearer of the two bf16 neighbours (ties to even).
    const double x = f;
    const double lo = bf16_to_f32(static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(f) >> 16));
    double hi = bf16_to_f32(static_cast<std::uint16_t>((std::bit_cast<std::uint32_t>(f) >> 16) + 1));
    double r = bf16_to_f32(b);
    // Rounding treats the step above the largest finite bf16 as 2^128 (then overflows).
    if (std::isinf(hi)) hi = std::copysign(std::ldexp(1.0, 128), x);
    if (std::isinf(r)) r = hi;
    REQUIRE((r == lo || r == hi));
    if (std::fabs(x - lo) < std::fabs(x - hi)) REQUIRE(r == lo);
    if (std::fabs(x - lo) > std::fabs(x - hi)) REQUIRE(r == hi);
  }
}

TEST_CASE("row conversions equal the scalar ones") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  std::vector<float> src = edge_floats();
  std::mt19937 rng(3);
  for (int i = 0; i < 10000; ++i) src.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
  src.push_back(std::numeric_limits<float>::quiet_NaN());
  const std::size_t n = src.size() - 5;  // odd length exercises the tails
  std::vector<std::uint16_t> h(n), b(n);
  f32_to_f16_row(src.data(), h.data(), n);
  f32_to_bf16_row(src.data(), b.data(), n);
  std::vector<float> hf(n), bf(n);
  f16_to_f32_row(h.data(), hf.data(), n);
  bf16_to_f32_row(b.data(), bf.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    INFO("i = " << i << " x = " << src[i]);
    if (std::isnan(src[i])) {
      REQUIRE(is_nan16(h[i]));
      REQUIRE(std::isnan(bf16_to_f32(b[i])));
      continue;
    }
    REQUIRE(h[i] == f32_to_f16(src[i]));
    REQUIRE(b[i] == f32_to_bf16(src[i]));
    REQUIRE(std::bit_cast<std::uint32_t>(hf[i]) == std::bit_cast<std::uint32_t>(f16_to_f32(h[i])));
    REQUIRE(std::bit_cast<std::uint32_t>(bf[i]) == std::bit_cast<std::uint32_t>(bf16_to_f32(b[i])));
  }
}

TEST_CASE("row conversions equal the scalar ones on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << simd);
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "row conversions equal the scalar ones", out), out);
  }
}
