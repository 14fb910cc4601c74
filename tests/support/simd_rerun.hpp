// Runs test cases of the current test executable again in a child process with
// TROUPE_SIMD set, so one ctest run exercises the scalar, AVX2 and AVX-512 kernel paths
// (host_cpu_features() reads the variable once per process).
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

namespace troupe::test {

/// Re-executes this test binary with TROUPE_SIMD=`simd`, running only the test cases whose
/// names match the doctest filter `test_case`. True when the child ran at least one test
/// case and all of them passed; `output` receives its report.
inline bool rerun_with_simd(const std::string& simd, const std::string& test_case, std::string& output) {
  const auto self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd = "TROUPE_SIMD=" + simd + " '" + self + "' --test-case='" + test_case + "' 2>&1";
  output.clear();
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return false;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int rc = pclose(pipe);
  // doctest exits 0 when nothing matched, so also require a passed test case.
  return rc == 0 && output.find(" 0 passed") == std::string::npos && output.find("passed") != std::string::npos;
}

} // namespace troupe::test
