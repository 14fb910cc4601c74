// Kernel benchmark: matrix-vector bandwidth per weight type against the memory bandwidth
// measured in the same run, and matrix-matrix GFLOP/s for a 128-token prefill.
//   bench_kernels [--json] [--rows N] [--cols N] [--tokens N] [--threads a,b] [--cached]
// Weights are spread over copies totalling > 3x L3 so every matvec streams from DRAM.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/matmul.hpp>
#include <troupe/inference/quant.hpp>
#include <troupe/inference/thread_pool.hpp>

using namespace troupe::inference;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t stream_bytes = 240u << 20;  // 5 windows of 48 MiB, each above L3 (32 MiB here)
constexpr std::size_t window_bytes = 48u << 20;

// Runs fn repeatedly for at least min_s seconds; returns the best seconds per call.
template <class F>
double best_time(F&& fn, double min_s = 0.4, int min_reps = 3) {
  double best = 1e30, total = 0;
  for (int rep = 0; rep < min_reps || total < min_s; ++rep) {
    const auto t0 = clock_type::now();
    fn();
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

__attribute__((target("avx2"))) std::uint64_t read_chunk(const std::uint8_t* p, std::size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (std::size_t i = 0; i + 128 <= n; i += 128) {
    a = _mm256_xor_si256(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_xor_si256(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_xor_si256(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_xor_si256(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}

/// Streaming-read bandwidth (GB/s) with the pool's threads, each reading its chunks. Each
/// timed pass reads the next 48 MiB window, so no pass finds its data in L3; the best pass
/// counts (short passes are less likely to be preempted on a shared machine).
double stream_bandwidth(thread_pool& pool, const std::uint8_t* buf) {
  const std::size_t chunk = 1u << 20, n_chunks = window_bytes / chunk, n_windows = stream_bytes / window_bytes;
  std::vector<std::uint64_t> sink(pool.size());
  std::size_t window = 0;
  const double s = best_time([&] {
    const std::uint8_t* base = buf + (window++ % n_windows) * window_bytes;
    pool.parallel_for(n_chunks, [&](std::size_t c, std::size_t t) { sink[t] ^= read_chunk(base + c * chunk, chunk); });
  }, 0.5, 20);
  if (sink[0] == 42) std::fputs("", stderr);  // keep the reads alive
  return static_cast<double>(window_bytes) / s / 1e9;
}

struct options {
  bool json = false;
  bool cached = false;  // --cached: one copy of the weights (measures compute, not DRAM)
  std::size_t rows = 4096, cols = 4096, tokens = 128;
  std::vector<std::size_t> threads{1, 2};
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json") o.json = true;
    else if (a == "--cached") o.cached = true;
    else if (a == "--rows") o.rows = std::stoul(next());
    else if (a == "--cols") o.cols = std::stoul(next());
    else if (a == "--tokens") o.tokens = std::stoul(next());
    else if (a == "--threads") {
      o.threads.clear();
      std::string s = next();
      for (std::size_t p = 0; p < s.size();) {
        const auto q = s.find(',', p);
        o.threads.push_back(std::stoul(s.substr(p, q - p)));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    }
  }
  return o;
}

struct result_row {
  std::string type;
  std::size_t threads;
  double bw_gbs, matvec_gbs, matvec_us, matmul_gflops;
};

} // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  std::vector<std::uint8_t> stream(stream_bytes + 64);
  auto* stream_buf = reinterpret_cast<std::uint8_t*>((reinterpret_cast<std::uintptr_t>(stream.data()) + 63) & ~std::uintptr_t{63});
  std::memset(stream_buf, 1, stream_bytes);

  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(o.cols), x(o.tokens * o.cols), y(o.tokens * o.rows);
  for (auto& v : x) v = dist(rng);

  std::vector<result_row> results;
  const tensor_type types[] = {tensor_type::f32, tensor_type::f16, tensor_type::bf16, tensor_type::q8_0,
                               tensor_type::q4_0, tensor_type::q4_k, tensor_type::q6_k};
  for (std::size_t n_threads : o.threads) {
    thread_pool pool(n_threads);
    const double bw = stream_bandwidth(pool, stream_buf);
    for (tensor_type t : types) {
      const std::size_t rb = row_bytes(t, o.cols), matrix_bytes = rb * o.rows;
      const std::size_t copies = o.cached ? 1 : std::max<std::size_t>(1, (96u << 20) / matrix_bytes + 1);
      std::vector<std::uint8_t> w(matrix_bytes * copies);
      for (std::size_t r = 0; r < o.rows; ++r) {
        for (auto& v : row) v = dist(rng) * 0.02f;
        quantize_row(t, row.data(), w.data() + r * rb, o.cols);
      }
      for (std::size_t c = 1; c < copies; ++c) std::memcpy(w.data() + c * matrix_bytes, w.data(), matrix_bytes);
      std::size_t next = 0;
      const double mv_s = best_time([&] {
        const weight_view v{t, w.data() + (next++ % copies) * matrix_bytes, o.rows, o.cols, rb};
        matmul(v, x.data(), 1, y.data(), &pool);
      }, 0.3, 20);
      const weight_view v{t, w.data(), o.rows, o.cols, rb};
      const double mm_s = best_time([&] { matmul(v, x.data(), o.tokens, y.data(), &pool); }, 0.5, 2);
      results.push_back({std::string(traits_of(t).name), n_threads, bw, static_cast<double>(matrix_bytes) / mv_s / 1e9,
                         mv_s * 1e6, 2.0 * static_cast<double>(o.rows * o.cols * o.tokens) / mm_s / 1e9});
    }
  }

  if (o.json) {
    fmt::print("{{\"simd\": \"{}\", \"rows\": {}, \"cols\": {}, \"tokens\": {}, \"results\": [", host_cpu_features().describe(),
               o.rows, o.cols, o.tokens);
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      fmt::print("{}{{\"type\": \"{}\", \"threads\": {}, \"stream_gbs\": {:.2f}, \"matvec_gbs\": {:.2f}, "
                 "\"matvec_us\": {:.1f}, \"matvec_vs_bandwidth\": {:.3f}, \"matmul_gflops\": {:.1f}}}",
                 i ? ", " : "", r.type, r.threads, r.bw_gbs, r.matvec_gbs, r.matvec_us, r.matvec_gbs / r.bw_gbs,
                 r.matmul_gflops);
    }
    fmt::print("]}}\n");
    return 0;
  }
  fmt::print("SIMD: {}   matrix {}x{}   prefill {} tokens\n", host_cpu_features().describe(), o.rows, o.cols, o.tokens);
  fmt::print("{:<6} {:>7} {:>11} {:>12} {:>10} {:>9} {:>15}\n", "type", "threads", "stream GB/s", "matvec GB/s",
             "matvec us", "vs bound", "matmul GFLOP/s");
  for (const auto& r : results)
    fmt::print("{:<6} {:>7} {:>11.1f} {:>12.1f} {:>10.1f} {:>8.0f}% {:>15.1f}\n", r.type, r.threads, r.bw_gbs,
               r.matvec_gbs, r.matvec_us, 100.0 * r.matvec_gbs / r.bw_gbs, r.matmul_gflops);
  return 0;
}
