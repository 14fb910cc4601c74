// The memory-bandwidth bound of the benchmarks: how fast the pool's threads can stream a
// buffer far larger than the caches, measured so that the number is stable from run to run
// and is a ceiling a decode step (which streams every weight once) cannot beat:
//   - 1 GiB by default (bench_engine and bench_kernels --smollm: 512 MiB, probed around each
//     timed decode) of anonymous memory on 2 MiB boundaries with transparent huge pages requested
//     (no TLB misses or page faults in the way; touched by all threads before timing),
//   - each thread reads its own contiguous slice (one long stream per thread, like decode)
//     with 64-byte AVX-512 loads (AVX2 / scalar where the CPU lacks them) into 8 independent
//     XOR accumulators (no compute to speak of),
//   - with AVX-512 every other pass also prefetches 2 KiB ahead into L2, as the packed Q8_0
//     decode kernel does (so a kernel's software prefetch cannot beat the bound by streaming
//     in a way the probe does not),
//   - several passes; the best pass is the bound, the median shows the spread.
#pragma once

#include <sys/mman.h>
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <troupe/inference/cpu_features.hpp>
#include <troupe/inference/thread_pool.hpp>

#include "bench_util.hpp"

namespace bench {

/// Result of one bandwidth measurement (bytes per second).
struct bandwidth {
  double best = 0;          ///< fastest pass: the bound
  double median = 0;        ///< median pass
  double worst = 0;         ///< slowest pass
  int passes = 0;           ///< passes timed
  std::size_t bytes = 0;    ///< buffer size
  bool huge_pages = false;  ///< the buffer got transparent huge pages (AnonHugePages grew)
};

namespace detail {

template <bool Prefetch>
__attribute__((target("avx512f"))) inline std::uint64_t read_avx512(const std::uint8_t* p, std::size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (std::size_t i = 0; i + 512 <= n; i += 512) {
    if constexpr (Prefetch)
      for (std::size_t l = 0; l < 512; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048 + l), _MM_HINT_T2);
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
    a4 = _mm512_xor_si512(a4, _mm512_load_si512(p + i + 256));
    a5 = _mm512_xor_si512(a5, _mm512_load_si512(p + i + 320));
    a6 = _mm512_xor_si512(a6, _mm512_load_si512(p + i + 384));
    a7 = _mm512_xor_si512(a7, _mm512_load_si512(p + i + 448));
  }
  const __m512i x = _mm512_xor_si512(_mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)),
                                     _mm512_xor_si512(_mm512_xor_si512(a4, a5), _mm512_xor_si512(a6, a7)));
  alignas(64) std::uint64_t lanes[8];
  _mm512_store_si512(lanes, x);
  return lanes[0] ^ lanes[7];
}

__attribute__((target("avx2"))) inline std::uint64_t read_avx2(const std::uint8_t* p, std::size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  return static_cast<std::uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}

inline std::uint64_t read_scalar(const std::uint8_t* p, std::size_t n) {
  const auto* w = reinterpret_cast<const std::uint64_t*>(p);
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (std::size_t i = 0; i + 4 <= n / 8; i += 4) {
    s0 ^= w[i];
    s1 ^= w[i + 1];
    s2 ^= w[i + 2];
    s3 ^= w[i + 3];
  }
  return s0 ^ s1 ^ s2 ^ s3;
}

inline std::size_t anon_huge_bytes() {
  std::size_t kb = 0;
  if (FILE* f = std::fopen("/proc/self/smaps_rollup", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr)
      if (std::sscanf(line, "AnonHugePages: %zu kB", &kb) == 1) break;
    std::fclose(f);
  }
  return kb * 1024;
}

} // namespace detail

/// A buffer far larger than the caches, mapped and touched once, streamed by measure() as
/// often as asked (so that a benchmark can probe right before and after each timed round).
class read_probe {
 public:
  /// Maps `bytes` (rounded to 2 MiB) for `pool`'s threads; see the top.
  explicit read_probe(troupe::inference::thread_pool& pool, std::size_t bytes = std::size_t{1} << 30) : pool_(pool) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    bytes_ = (bytes + huge - 1) / huge * huge;
    raw_ = mmap(nullptr, bytes_ + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw_ == MAP_FAILED) {
      raw_ = nullptr;
      return;
    }
    p_ = reinterpret_cast<std::uint8_t*>((reinterpret_cast<std::uintptr_t>(raw_) + huge - 1) / huge * huge);
    const std::size_t huge_before = detail::anon_huge_bytes();
    (void)madvise(p_, bytes_, MADV_HUGEPAGE);  // a hint; without it the bound is lower, not wrong
    const std::size_t n = pool.size();
    slice_ = bytes_ / n / 4096 * 4096;
    pool.parallel_for(n, [&](std::size_t t, std::size_t) {  // touch every page before timing
      for (std::size_t i = t * slice_; i < (t + 1) * slice_; i += 4096) p_[i] = static_cast<std::uint8_t>(i >> 12);
    });
    huge_pages_ = detail::anon_huge_bytes() >= huge_before + bytes_ / 2;
  }
  ~read_probe() {
    if (raw_ != nullptr) munmap(raw_, bytes_ + (std::size_t{2} << 20));
  }
  read_probe(const read_probe&) = delete;
  read_probe& operator=(const read_probe&) = delete;

  /// `passes` timed passes over the whole buffer (all zero when it could not be mapped).
  bandwidth measure(int passes) {
    bandwidth r;
    r.bytes = bytes_;
    r.huge_pages = huge_pages_;
    if (p_ == nullptr || passes <= 0) return r;
    const auto& cpu = troupe::inference::host_cpu_features();
    const std::size_t n = pool_.size();
    std::vector<std::uint64_t> sink(n);
    std::vector<double> rates;
    for (int pass = 0; pass < passes; ++pass) {
      const auto read = cpu.avx512 ? (pass % 2 == 0 ? detail::read_avx512<false> : detail::read_avx512<true>)
                        : cpu.avx2 ? detail::read_avx2
                                   : detail::read_scalar;
      const double t0 = now_s();
      pool_.parallel_for(n, [&](std::size_t t, std::size_t) { sink[t] ^= read(p_ + t * slice_, slice_); });
      rates.push_back(static_cast<double>(slice_ * n) / (now_s() - t0));
    }
    for (const std::uint64_t v : sink) sink_ = sink_ ^ v;  // keeps the reads alive
    std::sort(rates.begin(), rates.end());
    r.passes = passes;
    r.best = rates.back();
    r.median = rates[rates.size() / 2];
    r.worst = rates.front();
    return r;
  }

 private:
  troupe::inference::thread_pool& pool_;
  std::size_t bytes_ = 0, slice_ = 0;
  void* raw_ = nullptr;
  std::uint8_t* p_ = nullptr;
  bool huge_pages_ = false;
  volatile std::uint64_t sink_ = 0;
};

/// Streams `bytes` (rounded to 2 MiB) `passes` times with the pool's threads; see the top.
inline bandwidth measure_read_bandwidth(troupe::inference::thread_pool& pool, std::size_t bytes = std::size_t{1} << 30,
                                        int passes = 9) {
  read_probe probe(pool, bytes);
  return probe.measure(passes);
}

} // namespace bench
