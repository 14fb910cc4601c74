// Kernel benchmark: matrix-vector bandwidth per weight type against the memory bandwidth
// measured in the same run, and matrix-matrix GFLOP/s for a 128-token prefill.
//   bench_kernels [--json] [--rows N] [--cols N] [--tokens N] [--threads a,b] [--cached]
//                 [--smollm [--cpu-time] [--types F16,Q8_0p,Q8_0,Q4_K]]   (Q8_0p: Q8_0 as pack_weights lays it out)
// Weights are spread over copies totalling > 3x L3 so every matvec streams from DRAM.

#include <algorithm>
#include <chrono>
#include <ctime>
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

#include "bandwidth.hpp"

using namespace troupe::inference;
using clock_type = std::chrono::steady_clock;

namespace {

double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Best wall-clock seconds per call, and best CPU seconds per call summed over the
/// process's threads (on a shared machine the wall time includes waiting for a core).
struct timing {
  double wall_s = 1e30;
  double cpu_s = 1e30;
};

// Runs fn repeatedly for at least min_s seconds.
template <class F>
timing best_time(F&& fn, double min_s = 0.4, int min_reps = 3) {
  timing best;
  double total = 0;
  for (int rep = 0; rep < min_reps || total < min_s; ++rep) {
    const double c0 = process_cpu_s();
    const auto t0 = clock_type::now();
    fn();
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    best.wall_s = std::min(best.wall_s, s);
    best.cpu_s = std::min(best.cpu_s, process_cpu_s() - c0);
    total += s;
  }
  return best;
}

/// Read bandwidth (GB/s) with the pool's threads: the same probe as bench_engine's bound
/// (bandwidth.hpp), on 512 MiB and 5 passes per row to keep the run short.
double stream_bandwidth(thread_pool& pool) {
  return bench::measure_read_bandwidth(pool, std::size_t{512} << 20, 5).best / 1e9;
}

struct options {
  bool json = false;
  bool cached = false;  // --cached: one copy of the weights (measures compute, not DRAM)
  std::size_t rows = 4096, cols = 4096, tokens = 128;
  std::vector<std::size_t> threads{1, 2};
  bool smollm = false;  // --smollm: all matrices of SmolLM-360M, decode and 128-token prefill
  bool cpu_time = false;  // --cpu-time: --smollm times from CPU seconds / threads (shared machines)
  std::string types = "F16,Q8_0p,Q8_0,Q4_K";  // --types: the --smollm rows to run
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--json") o.json = true;
    else if (a == "--cached") o.cached = true;
    else if (a == "--smollm") o.smollm = true;
    else if (a == "--cpu-time") o.cpu_time = true;
    else if (a == "--rows") o.rows = std::stoul(next());
    else if (a == "--cols") o.cols = std::stoul(next());
    else if (a == "--tokens") o.tokens = std::stoul(next());
    else if (a == "--types") o.types = next();
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
  double bw_gbs, matvec_gbs, matvec_us, matmul_gflops, matmul_gflops_per_cpu_s;
};

/// Every linear layer of a SmolLM-360M-shaped model (32 layers, d 960, ffn 2560, 15 query
/// and 5 key/value heads of 64, tied 49152-token output head): the time the matrix products
/// of one decode step and of a prefill take, as an upper bound on tok/s for the forward pass.
int run_smollm(const options& o) {
  struct shape {
    std::size_t rows, cols;
  };
  const shape layer[] = {{960, 960}, {320, 960}, {320, 960}, {960, 960}, {2560, 960}, {2560, 960}, {960, 2560}};
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  if (!o.json) fmt::print("SmolLM-360M matrix products, SIMD {}, prefill {} tokens (logits for the last only), {}\n",
                          host_cpu_features().describe(), o.tokens,
                          o.cpu_time ? "times = CPU seconds / threads" : "wall-clock times");
  if (!o.json) fmt::print("(Q8_0p: Q8_0 re-laid-out by pack_weights, as the engine runs it; Q8_0: the file's blocks)\n");
  if (!o.json)
    fmt::print("{:<6} {:>7} {:>11} {:>13} {:>14} {:>10} {:>16}\n", "type", "threads", "stream GB/s", "decode ms/tok",
               "decode tok/s", "vs bound", "prefill tok/s");
  std::string json = "[";
  // Q8_0 twice: as the engine runs it (re-laid-out by pack_weights where this CPU's kernels
  // have a packed layout) and reading the file's blocks.
  struct variant {
    tensor_type t;
    bool pack;
  };
  for (const variant var : {variant{tensor_type::f16, false}, variant{tensor_type::q8_0, true},
                            variant{tensor_type::q8_0, false}, variant{tensor_type::q4_k, false}}) {
    const tensor_type t = var.t;
    if (("," + o.types + ",").find("," + std::string(traits_of(t).name) + (var.pack ? "p," : ",")) == std::string::npos)
      continue;
    std::vector<std::vector<std::uint8_t>> mats;
    std::vector<weight_view> views;
    std::size_t bytes_per_token = 0;
    std::vector<float> row(2560);
    auto add = [&](std::size_t rows, std::size_t cols) {
      const std::size_t rb = row_bytes(t, cols);
      mats.emplace_back(rows * rb);
      for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t i = 0; i < cols; ++i) row[i] = dist(rng);
        quantize_row(t, row.data(), mats.back().data() + r * rb, cols);
      }
      views.push_back({t, mats.back().data(), rows, cols, rb});
      bytes_per_token += rows * rb;
    };
    const std::size_t cols_k = t == tensor_type::q4_k ? 1024 : 960;  // Q4_K needs multiples of 256
    for (int l = 0; l < 32; ++l)
      for (const auto& s : layer) add(s.rows, s.cols == 960 ? cols_k : s.cols);
    add(49152, cols_k);
    std::vector<float> x(o.tokens * 2560), y(o.tokens * 49152);
    for (auto& v : x) v = dist(rng) * 50.0f;
    packed_weights packed;  // all matrices in one mapping, as the engine packs a model
    if (var.pack) {
      std::vector<weight_view*> ptrs;
      for (auto& v : views) ptrs.push_back(&v);
      packed = pack_weights(ptrs);
      if (!packed) continue;  // no packed layout on this CPU
    }
    const std::string name = std::string(traits_of(t).name) + (var.pack ? "p" : "");
    for (std::size_t n_threads : o.threads) {
      thread_pool pool(n_threads);
      // The bound's bandwidth: probed right before and right after the decode timing (the
      // faster of the two), since the machine's bandwidth can change within seconds; one
      // buffer for both probes.
      bench::read_probe probe(pool, std::size_t{512} << 20);
      const double bw_before = probe.measure(5).best / 1e9;
      const timing decode = best_time([&] {
        for (const auto& v : views) matmul(v, x.data(), 1, y.data(), &pool);
      }, 1.0, 5);
      const double bw = std::max(bw_before, probe.measure(5).best / 1e9);
      const timing prefill = best_time([&] {
        for (std::size_t i = 0; i + 1 < views.size(); ++i) matmul(views[i], x.data(), o.tokens, y.data(), &pool);
        matmul(views.back(), x.data(), 1, y.data(), &pool);
      }, 1.0, 2);
      // On a shared machine the wall time includes waiting for a core; CPU seconds / threads
      // is the wall time the same work takes when the threads have their cores.
      const double nt = static_cast<double>(n_threads);
      const double decode_s = o.cpu_time ? decode.cpu_s / nt : decode.wall_s;
      const double prefill_s = o.cpu_time ? prefill.cpu_s / nt : prefill.wall_s;
      const double bound_tok_s = bw * 1e9 / static_cast<double>(bytes_per_token);
      if (o.json) {
        json += fmt::format("{}{{\"type\": \"{}\", \"threads\": {}, \"stream_gbs\": {:.2f}, \"weight_mb\": {:.1f}, "
                            "\"decode_ms\": {:.3f}, \"decode_tok_s\": {:.1f}, \"bound_tok_s\": {:.1f}, "
                            "\"prefill_tok_s\": {:.1f}}}",
                            json.size() > 1 ? ", " : "", name, n_threads, bw,
                            static_cast<double>(bytes_per_token) / 1e6, decode_s * 1e3, 1.0 / decode_s, bound_tok_s,
                            static_cast<double>(o.tokens) / prefill_s);
      } else {
        fmt::print("{:<6} {:>7} {:>11.1f} {:>13.2f} {:>14.1f} {:>9.0f}% {:>16.1f}\n", name, n_threads, bw,
                   decode_s * 1e3, 1.0 / decode_s, 100.0 * (1.0 / decode_s) / bound_tok_s,
                   static_cast<double>(o.tokens) / prefill_s);
      }
    }
  }
  if (o.json) fmt::print("{{\"model\": \"smollm-360m\", \"simd\": \"{}\", \"results\": {}]}}\n",
                         host_cpu_features().describe(), json);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  if (o.smollm) return run_smollm(o);

  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> row(o.cols), x(o.tokens * o.cols), y(o.tokens * o.rows);
  for (auto& v : x) v = dist(rng);

  std::vector<result_row> results;
  const tensor_type types[] = {tensor_type::f32, tensor_type::f16, tensor_type::bf16, tensor_type::q8_0,
                               tensor_type::q4_0, tensor_type::q4_k, tensor_type::q6_k};
  for (std::size_t n_threads : o.threads) {
    thread_pool pool(n_threads);
    const double bw = stream_bandwidth(pool);
    for (std::size_t ti = 0; ti <= std::size(types); ++ti) {
      // Q8_0 a second time ("Q8_0p"), re-laid-out by pack_weights as the engine runs it.
      const bool pack = ti == std::size(types);
      const tensor_type t = pack ? tensor_type::q8_0 : types[ti];
      const std::size_t rb = row_bytes(t, o.cols), matrix_bytes = rb * o.rows;
      const std::size_t copies = o.cached ? 1 : std::max<std::size_t>(1, (96u << 20) / matrix_bytes + 1);
      std::vector<std::uint8_t> w(matrix_bytes * copies);
      for (std::size_t r = 0; r < o.rows; ++r) {
        for (auto& v : row) v = dist(rng) * 0.02f;
        quantize_row(t, row.data(), w.data() + r * rb, o.cols);
      }
      for (std::size_t c = 1; c < copies; ++c) std::memcpy(w.data() + c * matrix_bytes, w.data(), matrix_bytes);
      std::vector<packed_weights> packs;
      for (std::size_t c = 0; pack && c < copies; ++c)
        packs.push_back(pack_weights({t, w.data() + c * matrix_bytes, o.rows, o.cols, rb}));
      if (pack && !packs.front()) continue;  // no packed layout on this CPU
      auto view = [&](std::size_t c) {
        weight_view v{t, w.data() + c * matrix_bytes, o.rows, o.cols, rb};
        if (pack) v.packed = packs[c].data();
        return v;
      };
      std::size_t next = 0;
      const timing mv = best_time([&] { matmul(view(next++ % copies), x.data(), 1, y.data(), &pool); }, 0.3, 20);
      const timing mm = best_time([&] { matmul(view(0), x.data(), o.tokens, y.data(), &pool); }, 0.5, 2);
      const double flops = 2.0 * static_cast<double>(o.rows * o.cols * o.tokens);
      results.push_back({std::string(traits_of(t).name) + (pack ? "p" : ""), n_threads, bw,
                         static_cast<double>(matrix_bytes) / mv.wall_s / 1e9, mv.wall_s * 1e6, flops / mm.wall_s / 1e9,
                         flops / mm.cpu_s / 1e9});
    }
  }

  if (o.json) {
    fmt::print("{{\"simd\": \"{}\", \"rows\": {}, \"cols\": {}, \"tokens\": {}, \"results\": [", host_cpu_features().describe(),
               o.rows, o.cols, o.tokens);
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      fmt::print("{}{{\"type\": \"{}\", \"threads\": {}, \"stream_gbs\": {:.2f}, \"matvec_gbs\": {:.2f}, "
                 "\"matvec_us\": {:.1f}, \"matvec_vs_bandwidth\": {:.3f}, \"matmul_gflops\": {:.1f}, "
                 "\"matmul_gflops_per_cpu_s\": {:.1f}}}",
                 i ? ", " : "", r.type, r.threads, r.bw_gbs, r.matvec_gbs, r.matvec_us, r.matvec_gbs / r.bw_gbs,
                 r.matmul_gflops, r.matmul_gflops_per_cpu_s);
    }
    fmt::print("]}}\n");
    return 0;
  }
  fmt::print("SIMD: {}   matrix {}x{}   prefill {} tokens\n", host_cpu_features().describe(), o.rows, o.cols, o.tokens);
  fmt::print("{:<6} {:>7} {:>11} {:>12} {:>10} {:>9} {:>15} {:>16}\n", "type", "threads", "stream GB/s", "matvec GB/s",
             "matvec us", "vs bound", "matmul GFLOP/s", "GFLOP/cpu-second");
  for (const auto& r : results)
    fmt::print("{:<6} {:>7} {:>11.1f} {:>12.1f} {:>10.1f} {:>8.0f}% {:>15.1f} {:>16.1f}\n", r.type, r.threads, r.bw_gbs,
               r.matvec_gbs, r.matvec_us, 100.0 * r.matvec_gbs / r.bw_gbs, r.matmul_gflops, r.matmul_gflops_per_cpu_s);
  return 0;
}
