#include <doctest/doctest.h>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/matmul.hpp>
#include <troupe/inference/quant.hpp>
#include <troupe/inference/thread_pool.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "support/fresh_pages.hpp"
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
// sum_b (max|x_b| / 127 / 2) * sum_{i in b} |w_i| with blocks b of 32 (for Q4_K/Q6_K, whose
// AVX-512 path quantizes activations in super-blocks of 256 like llama.cpp's Q8_K, of 256).
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
        const std::size_t bs = traits_of(p.type).block_elems == 256 ? 256 : 32;
        for (std::size_t b = 0; b < p.cols / bs; ++b) {
          double amax = 0, wsum = 0;
          for (std::size_t j = 0; j < bs; ++j) {
            amax = std::max(amax, static_cast<double>(std::fabs(x[bs * b + j])));
            wsum += std::fabs(w[bs * b + j]);
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
        for (std::size_t n_tok : {1u, 2u, 7u, 9u, 10u, 35u}) {  // every edge of 4- and 6-token tiles
          INFO("type " << traits_of(t).name << " rows " << rows << " cols " << cols << " tokens " << n_tok);
          const auto p = make_problem(t, rows, cols, n_tok, seed++);
          worst = std::max(worst, check_against_reference(p, (seed % 2) != 0 ? &pool : nullptr));
        }
      }
    }
    MESSAGE(traits_of(t).name << ": largest error / bound = " << worst);
  }
}

// Regression: the k-quant int8 path used blocks of 32 with their own scales, which is more
// precise than llama.cpp's Q8_K (one scale per 256) but rounds differently, so logits drifted
// from llama.cpp's by up to ~1e-1 on generated models. It now rounds like Q8_K: each x_i to
// d * round_to_even(x_i * 127 / amax) with amax over its 256-value super-block, d = 1 / (127 /
// amax); the integer dot products (AVX2 maddubs and AVX-512 VNNI kernels) then equal this
// emulation up to f32 summation order. The scalar path expands the weights to f32 and must
// match unquantized x.
TEST_CASE("k-quant matmul rounds activations like llama.cpp Q8_K") {
  for (tensor_type t : {tensor_type::q4_k, tensor_type::q6_k}) {
    INFO("type " << traits_of(t).name);
    const std::size_t rows = 48, cols = 2560, n_tok = 3;
    const auto p = make_problem(t, rows, cols, n_tok, 4242);
    std::vector<double> xq(p.x.size());
    for (std::size_t s = 0; s < p.x.size() / 256; ++s) {
      float amax = 0.0f;
      for (std::size_t j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(p.x[256 * s + j]));
      const float id = 127.0f / amax, d = 1.0f / id;
      for (std::size_t j = 0; j < 256; ++j) xq[256 * s + j] = d * std::nearbyint(p.x[256 * s + j] * id);
    }
    const bool int8_path = host_cpu_features().avx2;  // AVX2 and AVX-512 VNNI kernels; scalar expands to f32
    std::vector<float> y(n_tok * rows), w(cols);
    matmul(p.view(), p.x.data(), n_tok, y.data(), nullptr);
    double worst = 0, emul_vs_exact = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      reference::dequantize_row(t, p.w.data() + r * row_bytes(t, cols), w.data(), cols);
      for (std::size_t k = 0; k < n_tok; ++k) {
        double emul = 0, exact = 0, abs_dot = 0;
        for (std::size_t i = 0; i < cols; ++i) {
          emul += w[i] * xq[k * cols + i];
          exact += static_cast<double>(w[i]) * p.x[k * cols + i];
          abs_dot += std::fabs(static_cast<double>(w[i]) * p.x[k * cols + i]);
        }
        const double expected = int8_path ? emul : exact;
        worst = std::max(worst, std::fabs(y[k * rows + r] - expected) / abs_dot);
        emul_vs_exact = std::max(emul_vs_exact, std::fabs(emul - exact) / abs_dot);
      }
    }
    MESSAGE(traits_of(t).name << std::string(int8_path ? " int8 path" : " f32 path") << ": |y - expected| / sum|w x| <= "
                              << worst << " (Q8_K rounding itself: " << emul_vs_exact << ")");
    CHECK(worst < 1e-5);
    CHECK(emul_vs_exact > 1e-4);  // the rounding being checked is far above the tolerance
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

/// matmul_many over three matrices sharing `x` writes exactly what three matmul calls write
/// (outputs start as NaN, so a row it skips fails too).
static void check_many_equals_single(const std::array<weight_view, 3>& w, const float* x, std::size_t n_tok,
                              thread_pool& pool) {
  std::array<std::vector<float>, 3> many, single;
  for (std::size_t i = 0; i < 3; ++i) {
    many[i].assign(n_tok * w[i].rows, NAN);
    single[i].assign(n_tok * w[i].rows, 0.0f);
  }
  matmul_many({{&w[0], many[0].data()}, {&w[1], many[1].data()}, {&w[2], many[2].data()}}, x, n_tok, &pool);
  for (std::size_t i = 0; i < 3; ++i) {
    matmul(w[i], x, n_tok, single[i].data(), &pool);
    CHECK(many[i] == single[i]);
  }
}

TEST_CASE("matmul_many gives each product exactly as matmul does") {
  thread_pool pool(2);
  for (const tensor_type t : {tensor_type::f16, tensor_type::f32, tensor_type::bf16, tensor_type::q8_0})
    for (const std::size_t n_tok : {1u, 5u}) {
      INFO("type " << traits_of(t).name << ", " << n_tok << " tokens");
      // q, k, v-like shapes sharing one x; the middle one of another float type when t is F16.
      const auto a = make_problem(t, 200, 96, n_tok, 1);
      const auto b = make_problem(t == tensor_type::f16 ? tensor_type::bf16 : t, 70, 96, n_tok, 2);
      const auto c = make_problem(t, 3, 96, n_tok, 3);
      check_many_equals_single({a.view(), b.view(), c.view()}, a.x.data(), n_tok, pool);
    }
}

// Packed Q8_0 matrices share one task list too (AVX-512 VNNI; elsewhere pack_weights returns
// empty and this repeats the unpacked case): rows not a multiple of the 16-row panel, and
// enough panels that one token's guided tasks span two matrices.
TEST_CASE("matmul_many of packed Q8_0 matrices gives each product exactly as matmul does") {
  thread_pool pool(2);
  for (const std::size_t n_tok : {1u, 3u, 13u}) {
    INFO(n_tok << " tokens");
    const auto a = make_problem(tensor_type::q8_0, 200, 96, n_tok, 7);
    const auto b = make_problem(tensor_type::q8_0, 33, 96, n_tok, 8);
    const auto c = make_problem(tensor_type::q8_0, 480, 96, n_tok, 9);
    weight_view va = a.view(), vb = b.view(), vc = c.view();
    std::array<weight_view*, 3> views{&va, &vb, &vc};
    const packed_weights packed = pack_weights(std::span<weight_view* const>(views));
    check_many_equals_single({va, vb, vc}, a.x.data(), n_tok, pool);
  }
}

// Packed Q8_0 (pack_weights; AVX-512 VNNI only): panels of 16 rows with padding rows, an odd
// last block padded to a pair, token tiles of up to 12 split evenly.
TEST_CASE("packed Q8_0 matmul matches the reference and the unpacked kernels") {
  const bool packs = host_cpu_features().avx512 && host_cpu_features().avx512_vnni;
  MESSAGE("packed Q8_0 kernels: " << std::string(packs ? "yes" : "no (pack_weights returns empty, matmul reads the blocks)"));
  thread_pool pool(2);
  unsigned seed = 500;
  double worst = 0, worst_vs_unpacked = 0;
  for (std::size_t cols : {std::size_t{32}, std::size_t{96}, std::size_t{160}, std::size_t{960}}) {
    for (std::size_t rows : {1u, 15u, 16u, 17u, 33u, 70u, 300u}) {
      for (std::size_t n_tok = 1; n_tok <= 26; n_tok += (n_tok < 20 ? 1 : 6)) {
        INFO("rows " << rows << " cols " << cols << " tokens " << n_tok);
        auto p = make_problem(tensor_type::q8_0, rows, cols, n_tok, seed++);
        const packed_weights packed = pack_weights(p.view());
        CHECK(static_cast<bool>(packed) == packs);
        weight_view v = p.view();
        v.packed = packed.data();
        std::vector<float> y(n_tok * rows, NAN), plain(n_tok * rows), ref(n_tok * rows);
        thread_pool* tp = (seed % 2) != 0 ? &pool : nullptr;
        matmul(v, p.x.data(), n_tok, y.data(), tp);
        matmul(p.view(), p.x.data(), n_tok, plain.data(), tp);
        matmul_reference(p.view(), p.x.data(), n_tok, ref.data());
        const auto bound = bounds(p);
        for (std::size_t i = 0; i < y.size(); ++i) {
          INFO("token " << i / rows << " row " << i % rows << " y " << y[i] << " ref " << ref[i]);
          REQUIRE(std::fabs(static_cast<double>(y[i]) - ref[i]) <= bound[i]);
          worst = std::max(worst, std::fabs(static_cast<double>(y[i]) - ref[i]) / bound[i]);
          // Same int8 activations and integer dots: only the f32 summation order differs.
          REQUIRE(std::fabs(y[i] - plain[i]) <= 1e-5 * bound[i] / 1e-3 + 1e-6);
          worst_vs_unpacked = std::max(worst_vs_unpacked, static_cast<double>(std::fabs(y[i] - plain[i])));
        }
      }
    }
  }
  MESSAGE("packed Q8_0: largest error / bound = " << worst << ", largest |packed - unpacked| = " << worst_vs_unpacked);
  CHECK(worst > 1e-3);  // the activation rounding shows
}

TEST_CASE("pack_weights packs only what this CPU's kernels read") {
  const auto p = make_problem(tensor_type::q4_0, 20, 64, 1, 9);
  CHECK_FALSE(pack_weights(p.view()));
  const auto f = make_problem(tensor_type::f16, 20, 64, 1, 9);
  CHECK_FALSE(pack_weights(f.view()));
}

TEST_CASE("pack_weights packs many matrices into one mapping") {
  const bool packs = host_cpu_features().avx512 && host_cpu_features().avx512_vnni;
  const auto a = make_problem(tensor_type::q8_0, 33, 96, 5, 31);
  const auto b = make_problem(tensor_type::q4_0, 8, 96, 5, 32);  // no packed layout: left alone
  const auto c = make_problem(tensor_type::q8_0, 16, 2560, 5, 33);
  weight_view va = a.view(), vb = b.view(), vc = c.view();
  weight_view* views[] = {&va, &vb, &vc};
  const packed_weights packed = pack_weights(views);
  REQUIRE(static_cast<bool>(packed) == packs);
  CHECK(vb.packed == nullptr);
  if (!packs) return;
  CHECK(va.packed == packed.data());
  CHECK(vc.packed != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(vc.packed) % 64 == 0);
  for (const auto* pv : {&a, &c}) {
    const weight_view& v = pv == &a ? va : vc;
    const packed_weights alone = pack_weights(pv->view());
    weight_view one = pv->view();
    one.packed = alone.data();
    std::vector<float> y(5 * pv->rows), y_alone(5 * pv->rows);
    matmul(v, pv->x.data(), 5, y.data(), nullptr);
    matmul(one, pv->x.data(), 5, y_alone.data(), nullptr);
    CHECK(y == y_alone);
  }
}

TEST_CASE("matmul matches the reference on every SIMD path") {
  for (const char* simd : {"scalar", "avx2"}) {
    INFO("TROUPE_SIMD=" << std::string(simd));
    std::string out;
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "matmul matches the reference for every type and odd shapes", out), out);
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "k-quant matmul rounds activations like llama.cpp Q8_K", out), out);
    CHECK_MESSAGE(troupe::test::rerun_with_simd(simd, "packed Q8_0 matmul matches the reference and the unpacked kernels", out), out);
  }
}

// warm_one_token asks the worker to read the front of the part of the stream it will take
// (the second half for two threads); fresh pages show which pages it read.
TEST_CASE("warm_one_token has the worker read the front of its own part of the stream, nothing else") {
  using troupe::test::fresh_pages;
  const std::size_t cols = 256, row = cols * 2;  // F16: 512-byte rows, 8 pages per 64 rows
  // Run until the worker has read what it was asked for (it reads only while it waits). Each
  // subcase makes its memory before its pool: a worker may read it until the pool is gone.
  const auto warm_until = [&](thread_pool& pool, std::initializer_list<const weight_view*> ws, const auto& done) {
    for (int attempt = 0; attempt < 500 && !done(); ++attempt) {
      pool.parallel_for(2, [](std::size_t, std::size_t) {});
      warm_one_token(ws, pool);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  SUBCASE("one matrix: the second half's front") {
    const std::size_t rows = 512;
    const fresh_pages mem(rows * row / fresh_pages::page_size());
    const weight_view w{tensor_type::f16, mem.data(), rows, cols, row};
    const std::size_t half = mem.bytes() / 2 / fresh_pages::page_size();
    thread_pool pool(2);
    warm_until(pool, {&w}, [&] { return mem.resident(half) == half; });
    CHECK(mem.resident(half) == half);  // all of it: less than warm_one_token's cap
    CHECK(mem.resident(0, half) == 0);
  }
  SUBCASE("two matrices streamed as one: the second half is the second matrix") {
    const std::size_t rows = 256;
    const fresh_pages a(rows * row / fresh_pages::page_size()), b(rows * row / fresh_pages::page_size());
    const weight_view wa{tensor_type::f16, a.data(), rows, cols, row}, wb{tensor_type::f16, b.data(), rows, cols, row};
    const std::size_t pages = b.bytes() / fresh_pages::page_size();
    thread_pool pool(2);
    warm_until(pool, {&wa, &wb}, [&] { return b.resident() == pages; });
    CHECK(b.resident() == pages);
    CHECK(a.resident() == 0);
  }
  SUBCASE("weights whose one-token product does not stream: nothing") {
    const std::size_t rows = 1024;
    const fresh_pages mem((rows * row_bytes(tensor_type::q4_k, cols) + fresh_pages::page_size() - 1) /
                          fresh_pages::page_size());
    const weight_view w{tensor_type::q4_k, mem.data(), rows, cols, row_bytes(tensor_type::q4_k, cols)};
    thread_pool pool(2);
    warm_until(pool, {&w}, [] { return false; });
    CHECK(mem.resident() == 0);
  }
}
