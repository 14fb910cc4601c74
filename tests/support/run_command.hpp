// Runs a shell command in a test and captures its stdout and stderr.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/wait.h>

namespace troupe::test {

/// What a finished command printed and its exit status (-1 when it did not exit normally).
struct command_result {
  std::string output;  ///< stdout and stderr together
  int status = -1;
};

/// Runs `cmd` with /bin/sh, stderr merged into stdout.
inline command_result run_command(const std::string& cmd) {
  command_result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

/// The `troupe` executable under test (ctest sets TROUPE_BIN), or binary_dir()/bin/troupe.
inline std::string troupe_bin() {
  if (const char* b = std::getenv("TROUPE_BIN")) return b;
  return std::string{TROUPE_BINARY_DIR} + "/bin/troupe";
}

} // namespace troupe::test
