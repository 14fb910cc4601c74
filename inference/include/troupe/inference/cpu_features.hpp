// Which SIMD instruction sets this CPU offers, detected once at run time so one binary runs
// on any x86-64 machine and takes the fastest kernels the machine supports.
#pragma once

#include <string>

namespace troupe::inference {

/// SIMD capabilities of the CPU the process runs on.
struct cpu_features {
  bool avx2 = false;    ///< AVX2 + FMA + F16C
  bool avx512 = false;  ///< AVX-512 F/BW/VL/DQ
  bool avx512_vnni = false;
  bool avx512_bf16 = false;

  /// A short human-readable list, e.g. "avx2 avx512 vnni bf16".
  [[nodiscard]] std::string describe() const;
};

/// The features of this CPU (detected on first call; later calls are free). Setting the
/// environment variable TROUPE_SIMD to "scalar" or "avx2" caps what is reported, so tests
/// and benchmarks can exercise every code path on one machine.
[[nodiscard]] const cpu_features& host_cpu_features();

} // namespace troupe::inference
