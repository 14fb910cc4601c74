#include <doctest/doctest.h>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/fp16.hpp>
#include <troupe/inference/ops.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "support/simd_rerun.hpp"

using namespace troupe::inference;

TEST_CASE("rmsnorm scales by the inverse root mean square, times the weight") {
  const float x[4] = {1, 2, 3, 4};        // mean square 7.5
  const float w[4] = {1, 1, 2, 0.5f};
  float out[4];
  rmsnorm(out, x, w, 4, 0.0f);
  const float inv = 1.0f / std::sqrt(7.5f);
  CHECK(out[0] == doctest::Approx(1 * inv));
  CHECK(out[2] == doctest::Approx(6 * inv));
  CHECK(out[3] == doctest::Approx(2 * inv));
  rmsnorm(out, x, w, 4, 2.5f);  // eps inside the root: 1/sqrt(10)
  CHECK(out[1] == doctest::Approx(2 / std::sqrt(10.0f)));
  float in_place[4] = {1, 2, 3, 4};
  rmsnorm(in_place, in_place, w, 4, 0.0f);
  CHECK(in_place[3] == doctest::Approx(2 * inv));
}

TEST_CASE("softmax is stable and normalised") {
  float x[3] = {1000.0f, 1001.0f, 1002.0f};  // would overflow without the max shift
  const softmax_stats st = softmax(x, 3);
  const float e1 = std::exp(-1.0f), e2 = std::exp(-2.0f), z = 1 + e1 + e2;
  CHECK(st.max == 1002.0f);
  CHECK(st.inv_sum == x[2]);  // the largest element is exp(0) * (1 / sum)
  CHECK(x[2] == doctest::Approx(1 / z));
  CHECK(x[1] == doctest::Approx(e1 / z));
  CHECK(x[0] == doctest::Approx(e2 / z));
  float one[1] = {-5.0f};
  softmax(one, 1);
  CHECK(one[0] == 1.0f);
}

TEST_CASE("silu, swiglu and add") {
  const float g[3] = {0.0f, 2.0f, -3.0f}, u[3] = {5.0f, 0.5f, 2.0f};
  float out[3];
  silu(out, g, 3);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == doctest::Approx(2.0f / (1.0f + std::exp(-2.0f))));
  CHECK(out[2] == doctest::Approx(-3.0f / (1.0f + std::exp(3.0f))));
  swiglu(out, g, u, 3);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == doctest::Approx(0.5f * 2.0f / (1.0f + std::exp(-2.0f))));
  add(out, g, u, 3);
  CHECK(out[2] == -1.0f);
}

TEST_CASE("rope pairs adjacent values (llama) or the two halves (qwen2)") {
  // head_dim 4, theta 10000: pair 0 turns by pos * 1, pair 1 by pos * 0.01.
  const float c1 = std::cos(1.0f), s1 = std::sin(1.0f), c2 = std::cos(0.01f), s2 = std::sin(0.01f);
  float a[8] = {1, 2, 3, 4, 1, 0, 0, 1};  // two heads
  rope(a, 2, 4, 1, 10000.0f, rope_style::adjacent);
  CHECK(a[0] == doctest::Approx(1 * c1 - 2 * s1));
  CHECK(a[1] == doctest::Approx(1 * s1 + 2 * c1));
  CHECK(a[2] == doctest::Approx(3 * c2 - 4 * s2));
  CHECK(a[3] == doctest::Approx(3 * s2 + 4 * c2));
  CHECK(a[4] == doctest::Approx(c1));  // second head, same angles
  CHECK(a[5] == doctest::Approx(s1));
  float h[4] = {1, 2, 3, 4};
  rope(h, 1, 4, 1, 10000.0f, rope_style::halves);
  CHECK(h[0] == doctest::Approx(1 * c1 - 3 * s1));
  CHECK(h[2] == doctest::Approx(1 * s1 + 3 * c1));
  CHECK(h[1] == doctest::Approx(2 * c2 - 4 * s2));
  CHECK(h[3] == doctest::Approx(2 * s2 + 4 * c2));
  float z[4] = {1, 2, 3, 4};
  rope(z, 1, 4, 0, 10000.0f, rope_style::halves);  // position 0 is the identity
  CHECK(z[3] == 4.0f);
}

TEST_CASE("rope scores depend only on the distance between positions") {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> q(64), k(64);
  for (auto& v : q) v = dist(rng);
  for (auto& v : k) v = dist(rng);
  for (auto style : {rope_style::adjacent, rope_style::halves}) {
    auto score = [&](std::size_t pq, std::size_t pk) {
      auto a = q, b = k;
      rope(a.data(), 1, 64, pq, 10000.0f, style);
      rope(b.data(), 1, 64, pk, 10000.0f, style);
      double s = 0;
      for (int i = 0; i < 64; ++i) s += a[i] * b[i];
      return s;
    };
    CHECK(score(10, 3) == doctest::Approx(score(107, 100)).epsilon(1e-4));
    CHECK(score(10, 3) != doctest::Approx(score(10, 4)).epsilon(1e-4));
  }
}

TEST_CASE("f16 dot and axpy match the reference") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  std::mt19937 rng(9);
  std::normal_distribution<float> dist;
  for (std::size_t n : {1u, 7u, 16u, 33u, 64u, 100u, 1000u}) {
    INFO("n = " << n);
    std::vector<std::uint16_t> a(n);
    std::vector<float> b(n), y(n), y_ref(n);
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = f32_to_f16(dist(rng));
      b[i] = dist(rng);
      y[i] = y_ref[i] = dist(rng);
    }
    double exact = 0, mag = 0;
    for (std::size_t i = 0; i < n; ++i) {
      exact += static_cast<double>(f16_to_f32(a[i])) * b[i];
      mag += std::fabs(static_cast<double>(f16_to_f32(a[i])) * b[i]);
    }
    // Rigorous f32 bound for any summation order: n * 2^-24 * sum|a b|.
    CHECK(std::fabs(dot_f16(a.data(), b.data(), n) - exact) <= static_cast<double>(n) * 6e-8 * mag + 1e-7);
    axpy_f16(y.data(), 0.75f, a.data(), n);
    reference::axpy_f16(y_ref.data(), 0.75f, a.data(), n);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(y[i] == doctest::Approx(y_ref[i]).epsilon(1e-6));
  }
}

TEST_CASE("SIMD softmax silu and swiglu stay within a few ulp of std exp") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  std::vector<float> x;
  for (float v = -120.0f; v <= 120.0f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.7f, 88.8f, -87.3f, -87.4f, -103.0f, 1e10f, -1e10f}) x.push_back(v);
  const std::size_t n = x.size();
  auto close = [](float got, float want) {
    if (std::isinf(want)) return got == want;
    return std::fabs(got - want) <= 4e-7f * std::fabs(want) + 1e-37f;
  };
  std::vector<float> up(n), got(n), want(n);
  for (std::size_t i = 0; i < n; ++i) up[i] = 0.5f + static_cast<float>(i % 5);
  silu(got.data(), x.data(), n);
  reference::silu(want.data(), x.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    INFO("silu x = " << x[i] << " got " << got[i] << " want " << want[i]);
    REQUIRE(close(got[i], want[i]));
  }
  swiglu(got.data(), x.data(), up.data(), n);
  reference::swiglu(want.data(), x.data(), up.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    INFO("swiglu x = " << x[i]);
    REQUIRE(close(got[i], want[i]));
  }
  // Softmax rows of attention scores, odd lengths, with masked (-inf) entries.
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (std::size_t len : {1u, 3u, 17u, 100u, 1001u}) {
    std::vector<float> a(len), b(len);
    for (std::size_t i = 0; i < len; ++i) a[i] = b[i] = (i % 7 == 6) ? -INFINITY : dist(rng);
    const softmax_stats sa = softmax(a.data(), len), sb = reference::softmax(b.data(), len);
    CHECK(sa.max == sb.max);
    CHECK(sa.inv_sum == *std::max_element(a.begin(), a.end()));
    CHECK(sb.inv_sum == *std::max_element(b.begin(), b.end()));
    double total = 0;
    for (std::size_t i = 0; i < len; ++i) {
      INFO("softmax len " << len << " i " << i);
      REQUIRE(std::fabs(a[i] - b[i]) <= 1e-6f * b[i] + 1e-30f);
      total += a[i];
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
  }
  float nan_in[2] = {NAN, 1.0f}, nan_out[2];
  silu(nan_out, nan_in, 2);
  CHECK(std::isnan(nan_out[0]));
}

TEST_CASE("SIMD rmsnorm add and axpy match the reference") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (std::size_t n : {1u, 7u, 8u, 15u, 16u, 17u, 33u, 64u, 960u, 2563u}) {
    INFO("n = " << n);
    std::vector<float> x(n), w(n), b(n), got(n), want(n);
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = dist(rng);
      w[i] = dist(rng);
      b[i] = dist(rng);
    }
    // rmsnorm: the sum of squares is in double either way, so only its order differs; the
    // scale is then the same float (or one ulp apart) and each output at most ~2 ulp off.
    rmsnorm(got.data(), x.data(), w.data(), n, 1e-5f);
    reference::rmsnorm(want.data(), x.data(), w.data(), n, 1e-5f);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(std::fabs(got[i] - want[i]) <= 3e-7f * std::fabs(want[i]));
    std::vector<float> in_place = x;  // out may alias x
    rmsnorm(in_place.data(), in_place.data(), w.data(), n, 1e-5f);
    CHECK(in_place == got);
    // add: exact; out may alias an input.
    add(got.data(), x.data(), b.data(), n);
    reference::add(want.data(), x.data(), b.data(), n);
    CHECK(got == want);
    std::vector<float> acc = x;
    add(acc.data(), acc.data(), b.data(), n);
    CHECK(acc == want);
    // axpy: one rounding (fused) or two, so within an ulp of |alpha x| + |y| each.
    got = b;
    want = b;
    axpy(got.data(), -0.375f, x.data(), n);
    reference::axpy(want.data(), -0.375f, x.data(), n);
    for (std::size_t i = 0; i < n; ++i)
      REQUIRE(std::fabs(got[i] - want[i]) <= 1.2e-7f * (0.375f * std::fabs(x[i]) + std::fabs(b[i])));
    // A wrong tail (elements past the last full vector) or a lane left out shows here.
    CHECK(got[n - 1] != b[n - 1]);
  }
}

TEST_CASE("SIMD rmsnorm add and axpy on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << std::string(simd));
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "SIMD rmsnorm add and axpy match the reference", out), out);
  }
}

TEST_CASE("SIMD softmax silu and swiglu on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << std::string(simd));
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "SIMD softmax silu and swiglu stay within*", out), out);
  }
}

TEST_CASE("f16 dot and axpy match the reference on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << std::string(simd));
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "f16 dot and axpy match the reference", out), out);
  }
}

TEST_CASE("attention score and value loops over f16 rows match the reference") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  std::mt19937 rng(11);
  std::normal_distribution<float> dist;
  for (std::size_t hd : {16u, 40u, 64u, 128u})
    for (std::size_t n_q : {1u, 3u, 5u})
      for (std::size_t n : {1u, 17u, 64u}) {
        INFO("hd = " << hd << ", n_q = " << n_q << ", n = " << n);
        const std::size_t stride = hd * 3 + 8;  // rows of one head inside wider rows
        std::vector<std::uint16_t> rows(n * stride);
        std::vector<float> q(n_q * hd), p(n_q * (n + 2)), out(n_q * hd), out_ref(n_q * hd);
        for (auto& r : rows) r = f32_to_f16(dist(rng));
        for (auto& v : q) v = dist(rng);
        for (auto& v : p) v = dist(rng);
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = out_ref[i] = dist(rng);
        std::vector<float> s(n_q * (n + 2), -1.0f), s_ref(s);
        attn_scores_f16(rows.data(), stride, n, q.data(), n_q, hd, 0.125f, s.data(), n + 2);
        reference::attn_scores_f16(rows.data(), stride, n, q.data(), n_q, hd, 0.125f, s_ref.data(), n + 2);
        for (std::size_t i = 0; i < s.size(); ++i) REQUIRE(s[i] == doctest::Approx(s_ref[i]).epsilon(1e-5).scale(1.0));
        attn_values_f16(rows.data(), stride, n, p.data(), n + 2, n_q, hd, out.data());
        reference::attn_values_f16(rows.data(), stride, n, p.data(), n + 2, n_q, hd, out_ref.data());
        for (std::size_t i = 0; i < out.size(); ++i) REQUIRE(out[i] == doctest::Approx(out_ref[i]).epsilon(1e-5).scale(1.0));
      }
}

TEST_CASE("attention loops match the reference on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << std::string(simd));
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "attention score and value loops*", out), out);
  }
}
