// Helpers of the benchmarks: timing, the load average, a temp directory and running the
// llama.cpp peer program (the read-bandwidth probe is in bandwidth.hpp).
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
