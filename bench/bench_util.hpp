// Helpers of the benchmarks: timing, the load average, a temp directory, the read-bandwidth
// probe, and running the llama.cpp peer program.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <troupe/inference/thread_pool.hpp>

namespace bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// The 1-minute load average from /proc/loadavg (-1 when unreadable): printed with every
/// result, since the machines these run on are shared.
inline double load_average() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

inline std::filesystem::path make_temp_dir() {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / fmt::format("troupe-bench-{:x}", rd());
  std::filesystem::create_directories(dir);
  return dir;
}

/// Bytes per second the pool's threads read from a buffer far larger than the caches
/// (best of 5 passes): the ceiling for a decode step that streams every weight once.
inline double read_bandwidth_bytes_s(troupe::inference::thread_pool& pool) {
  const std::size_t n = (std::size_t{1} << 30) / sizeof(std::uint64_t);  // 1 GiB
  std::vector<std::uint64_t> buf(n);
  pool.parallel_for(pool.size(), [&](std::size_t t, std::size_t) {  // touch pages in parallel
    for (std::size_t i = n * t / pool.size(); i < n * (t + 1) / pool.size(); ++i) buf[i] = i;
  });
  std::atomic<std::uint64_t> sink{0};
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const double t0 = now_s();
    const std::size_t chunks = 64;
    pool.parallel_for(chunks, [&](std::size_t c, std::size_t) {
      std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const std::size_t end = n * (c + 1) / chunks;
      for (std::size_t i = n * c / chunks; i + 4 <= end; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sink += s0 + s1 + s2 + s3;
    });
    best = std::max(best, static_cast<double>(n * sizeof(std::uint64_t)) / (now_s() - t0));
  }
  return best;
}

/// Runs bench_llama_peer (when built) on `model`; leaves the outputs at 0 otherwise.
inline void measure_llama(const std::filesystem::path& model, std::size_t prompt, std::size_t gen,
                          std::size_t threads, std::size_t reps, double& prefill, double& decode) {
#ifdef TROUPE_LLAMA_PEER
  const auto cmd = fmt::format("'{}' '{}' '{}' {} {} {} {}", TROUPE_LLAMA_PEER, TROUPE_LLAMA_LIB_DIR,
                               model.string(), prompt, gen, threads, reps);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return;
  char line[512] = {};
  if (std::fgets(line, sizeof line, p) != nullptr)
    (void)std::sscanf(line, "{\"prefill_tok_s\": %lf, \"decode_tok_s\": %lf}", &prefill, &decode);
  pclose(p);
#else
  (void)model, (void)prompt, (void)gen, (void)threads, (void)reps, (void)prefill, (void)decode;
#endif
}

/// Runs bench_llama_peer's batched mode (when built): `n_seq` sequences with `prompt`-token
/// prompts decode `gen` steps together; returns the aggregate decode tok/s (0 when not built
/// or on failure).
inline double measure_llama_batched(const std::filesystem::path& model, std::size_t prompt, std::size_t gen,
                                    std::size_t threads, std::size_t reps, std::size_t n_seq) {
  double tok_s = 0;
#ifdef TROUPE_LLAMA_PEER
  const auto cmd = fmt::format("'{}' '{}' '{}' {} {} {} {} {}", TROUPE_LLAMA_PEER, TROUPE_LLAMA_LIB_DIR,
                               model.string(), prompt, gen, threads, reps, n_seq);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  char line[512] = {};
  int n = 0;
  if (std::fgets(line, sizeof line, p) != nullptr)
    (void)std::sscanf(line, "{\"n_seq\": %d, \"decode_tok_s\": %lf}", &n, &tok_s);
  pclose(p);
#else
  (void)model, (void)prompt, (void)gen, (void)threads, (void)reps, (void)n_seq;
#endif
  return tok_s;
}

} // namespace bench
