#include <doctest/doctest.h>

#include <troupe/inference/cpu_features.hpp>

#include <cstdlib>

using troupe::inference::host_cpu_features;

TEST_CASE("cpu features are consistent") {
  const auto& f = host_cpu_features();
  // AVX-512 paths are built on top of the AVX2 ones; the detector must never report one
  // without the other, or dispatch would call code the CPU cannot run.
  if (f.avx512) CHECK(f.avx2);
  if (f.avx512_vnni || f.avx512_bf16) CHECK(f.avx512);
  CHECK_FALSE(f.describe().empty());
  MESSAGE("host SIMD: " << f.describe());
}
