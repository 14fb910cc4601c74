// `troupe generate` end to end on a generated model.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using troupe::test::run_command;
using troupe::test::temp_dir;
using troupe::test::troupe_bin;

namespace {

/// The last line of the output that consists of token ids (from --print-token-ids).
std::string id_line(const std::string& out) {
  std::string last;
  std::size_t start = 0;
  while (start < out.size()) {
    const auto end = out.find('\n', start);
    const auto line = out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line.find_first_not_of("0123456789 ") == std::string::npos) last = line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return last;
}

} // namespace

TEST_CASE("troupe generate streams text, prints ids and speeds") {
  temp_dir dir("cli-generate");
  const auto model = (dir / "m.gguf").string();
  REQUIRE(run_command(fmt::format("'{}' gen-model -o '{}' --arch qwen2", troupe_bin(), model)).status == 0);
  const auto cmd = fmt::format("'{}' generate -m '{}' -p 'Hello world' -n 12 --temp 0 --threads 2 "
                               "--print-token-ids", troupe_bin(), model);
  const auto a = run_command(cmd);
  REQUIRE(a.status == 0);
  CHECK(a.output.find("prefill:") != std::string::npos);
  CHECK(a.output.find("decode: 12 tokens") != std::string::npos);
  const auto ids = id_line(a.output);
  int n = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) n += ids[i] != ' ' && (i == 0 || ids[i - 1] == ' ');
  CHECK(n == 12);
  CHECK(id_line(run_command(cmd).output) == ids);  // greedy is deterministic

  const auto sampled = fmt::format("'{}' generate -m '{}' -p 'Hello world' -n 12 --temp 1 --seed 5 "
                                   "--print-token-ids", troupe_bin(), model);
  CHECK(id_line(run_command(sampled).output) == id_line(run_command(sampled).output));
}

TEST_CASE("troupe generate reports bad input with exit codes") {
  temp_dir dir("cli-generate-bad");
  const auto missing = run_command(fmt::format("'{}' generate -m '{}' -p x", troupe_bin(),
                                               (dir / "none.gguf").string()));
  CHECK(missing.status == 3);
  CHECK(missing.output.find("none.gguf") != std::string::npos);
  CHECK(run_command(fmt::format("'{}' generate -p x", troupe_bin())).status == 2);
}
