#include "troupe/inference/cpu_features.hpp"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>

namespace troupe::inference {

namespace {

// XCR0 tells whether the OS saves the wide registers on context switch; without that bit the
// instructions exist but must not be used.
unsigned long long read_xcr0() {
  unsigned int lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

cpu_features detect() {
  cpu_features f;
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  if (!osxsave) return f;
  const auto xcr0 = read_xcr0();
  const bool ymm_ok = (xcr0 & 0x6) == 0x6;
  const bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
  const bool avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
  const bool vnni = (c >> 11) & 1;
  f.avx2 = ymm_ok && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_ok && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && vnni;
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = f.avx512 && ((a >> 5) & 1);

  if (const char* cap = std::getenv("TROUPE_SIMD")) {
    if (std::strcmp(cap, "scalar") == 0) f = cpu_features{};
    if (std::strcmp(cap, "avx2") == 0) f.avx512 = f.avx512_vnni = f.avx512_bf16 = false;
  }
  return f;
}

} // namespace

std::string cpu_features::describe() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(avx512, "avx512");
  add(avx512_vnni, "vnni");
  add(avx512_bf16, "bf16");
  return s.empty() ? std::string{"scalar"} : s;
}

const cpu_features& host_cpu_features() {
  static const cpu_features features = detect();
  return features;
}

} // namespace troupe::inference
