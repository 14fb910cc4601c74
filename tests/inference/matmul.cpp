#include <doctest/doctest.h>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/matmul.hpp>
#include <troupe/inference/quant.hpp>
#include <troupe/inference/thread_pool.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "support/simd_rerun.hpp"

using namespace troupe::inference;

namespace {

struct problem {
  tensor_type type;
  std::size_t rows, cols, n_tok;
  std::vector<std::uint8_t> w;
  std::vector<float> x;
  weight_view view() const { return {type, w.data(), rows, cols, row_bytes(type, cols)}; }
};

problem make_problem(tensor_type t, std::size_t rows, std::size_t cols, std::size_t n_tok, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  problem p{t, rows, cols, n_tok, std::vector<std::uint8_t>(rows * row_bytes(t, cols)), std::vector<float>(n_tok * cols)};
  std::vector<float> row(cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    quantize_row(t, row.data(), p.w.data() + r * row_bytes(t, cols), cols);
  }
  for (auto& v : p.x) v = dist(rng);
  return p;
}

// Per-output error bound (see matmul.hpp). Float paths: summation order only, bounded by
// ~(cols/16 + 8) * 2^-24 * sum|w x| for 16-lane accumulators; 1e-5 * sum|w x| covers
// cols <= 1000 with margin. Q8_0/Q4_0: plus the int8 activation rounding,
// sum_b (max|x_b| / 127 / 2) * sum_{i in b} |w_i| (also for Q4_K/Q6_K, whose AVX-512 path
// quantizes activations the same way).
std::vector<double> bounds(const problem& p) {
  std::vector<double> out(p.n_tok * p.rows);
  std::vector<float> w(p.cols);
  // Q4_K/Q6_K use int8 activations on the AVX-512 path (float expansion elsewhere).
  const bool int8_acts = p.type == tensor_type::q8_0 || p.type == tensor_type::q4_0 ||
                         p.type == tensor_type::q4_k || p.type == tensor_type::q6_k;
  for (std::size_t r = 0; r < p.rows; ++r) {
    reference::dequantize_row(p.type, p.w.data() + r * row_bytes(p.type, p.cols), w.data(), p.cols);
    for (std::size_t t = 0; t < p.n_tok; ++t) {
      const float* x = p.x.data() + t * p.cols;
      double abs_dot = 0, act = 0;
      for (std::size_t i = 0; i < p.cols; ++i) abs_dot += std::fabs(static_cast<double>(w[i]) * x[i]);
      if (int8_acts) {
        for (std::size_t b = 0; b < p.cols / 32; ++b) {
          double amax = 0, wsum = 0;
          for (int j = 0; j < 32; ++j) {
            amax = std::max(amax, static_cast<double>(std::fabs(x[32 * b + j])));
            wsum += std::fabs(w[32 * b + j]);
          }
          act += amax / 127.0 / 2.0 * wsum;
        }
      }
      out[t * p.rows + r] = 1e-5 * abs_dot + act * 1.0001 + 1e-6;
    }
  }
  return out;
}

double check_against_reference(const problem& p, thread_pool* pool) {
  std::vector<float> y(p.n_tok * p.rows, NAN), ref(p.n_tok * p.rows);
  matmul(p.view(), p.x.data(), p.n_tok, y.data(), pool);
  matmul_reference(p.view(), p.x.data(), p.n_tok, ref.data());
  const auto bound = bounds(p);
  double worst = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    INFO("token " << i / p.rows << " row " << i % p.rows << " y " << y[i] << " ref " << ref[i]);
    REQUIRE(std::fabs(static_cast<double>(y[i]) - ref[i]) <= bound[i]);
    worst = std::max(worst, std::fabs(static_cast<double>(y[i]) - ref[i]) / bound[i]);
  }
  // A bound the results never come near would be a test that cannot fail; the int8 paths
  // must actually show their activation rounding.
  if (p.type == tensor_type::q8_0 || p.type == tensor_type::q4_0) CHECK(worst > 1e-3);
  return worst;
}

} // namespace

TEST_CASE("matmul matches the reference for every type and odd shapes") {
  MESSAGE("SIMD: " << host_cpu_features().describe());
  thread_pool pool(3);
  unsigned seed = 1;
  for (tensor_type t : {tensor_type::f32, tensor_type::f16, tensor_type::bf16, tensor_type::q8_0, tensor_type::q4_0,
                        tensor_type::q4_k, tensor_type::q6_k}) {
    double worst = 0;
    const bool k_quant = traits_of(t).block_elems == 256;
    const bool plain = traits_of(t).block_elems == 1;
    for (std::size_t cols : {std::size_t{256}, std::size_t{768}, std::size_t{plain ? 37u : k_quant ? 512u : 96u}}) {
      for (std::size_t rows : {1u, 5u, 37u, 70u}) {
        for (std::size_t n_tok : {1u, 2u, 7u, 33u}) {
          INFO("type " << traits_of(t).name << " rows " << rows << " cols " << cols << " tokens " << n_tok);
          const auto p = make_problem(t, rows, cols, n_tok, seed++);
          worst = std::max(worst, check_against_reference(p, (seed % 2) != 0 ? &pool : nullptr));
        }
      }
    }
    MESSAGE(traits_of(t).name << ": largest error / bound = " << worst);
  }
}

TEST_CASE("matmul honours the row stride of the weight view") {
  // Rows padded to a larger stride (as in a tensor view of a bigger matrix).
  const auto p = make_problem(tensor_type::q8_0, 9, 64, 3, 77);
  const std::size_t rb = row_bytes(tensor_type::q8_0, 64), stride = rb + 34;
  std::vector<std::uint8_t> padded(9 * stride, 0xff);
  for (std::size_t r = 0; r < 9; ++r) std::copy_n(p.w.data() + r * rb, rb, padded.data() + r * stride);
  const weight_view v{tensor_type::q8_0, padded.data(), 9, 64, stride};
  std::vector<float> y(27), ref(27);
  matmul(v, p.x.data(), 3, y.data(), nullptr);
  matmul(p.view(), p.x.data(), 3, ref.data(), nullptr);
  CHECK(y == ref);
}

TEST_CASE("matmul matches the reference on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << simd);
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "matmul matches the reference for every type and odd shapes", out), out);
  }
}
