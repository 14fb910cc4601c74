// Cross-check of the committed model models/troupe-tiny-en.gguf: the perplexity troupe's own
// engine computes on held-out text (training/heldout.txt, never trained on) against
//   - the number the training pipeline's PyTorch evaluation of the same GGUF weights stored in
//     training/heldout_ppl.json (training/eval_ppl.py), and
//   - the same PyTorch evaluation run live, when /usr/bin/python3 has torch (skips visibly
//     otherwise), and
//   - `troupe perplexity` (the CLI front end) on the same file.
// Tolerance: troupe's fast path keeps the KV cache in F16 (PyTorch computes in F32), so the
// numbers agree to about 1e-6 relative, not bit for bit; 1e-4 relative is asserted.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "support/temp_dir.hpp"
#include <troupe/inference/context.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/perplexity.hpp>
#include <troupe/inference/vocab.hpp>

using namespace troupe::inference;
namespace fs = std::filesystem;

namespace {

constexpr double rel_tolerance = 1e-4;

fs::path src(const char* rel) { return troupe::test::source_dir() / rel; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The number after `"key":` in a flat JSON object; NaN if absent.
double json_number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return std::nan("");
  const auto colon = json.find(':', at);
  return colon == std::string::npos ? std::nan("") : std::strtod(json.c_str() + colon + 1, nullptr);
}

/// Runs a shell command, returning its stdout and setting `status` to its exit status.
std::string run(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) out += buf.data();
  status = ::pclose(p);
  return out;
}

struct troupe_number {
  perplexity_result r;
  std::size_t window = 0;
};

troupe_number troupe_ppl() {
  const std::string ref = slurp(src("training/heldout_ppl.json"));
  const auto window = static_cast<std::size_t>(json_number(ref, "ctx"));
  REQUIRE(window >= 2);
  auto m = model::load(src("models/troupe-tiny-en.gguf").string());
  REQUIRE(m.has_value());
  auto tok = tokenizer::from_gguf((*m)->file());
  REQUIRE(tok.has_value());
  const auto ids = tok->encode(slurp(src("training/heldout.txt")), false, true);
  context_params cp;
  cp.n_ctx = window;
  cp.n_threads = 2;
  cp.n_batch_max = window;
  auto ctx = context::create(*m, cp);
  REQUIRE(ctx.has_value());
  auto r = perplexity(**ctx, ids, window);
  REQUIRE(r.has_value());
  return {*r, window};
}

} // namespace

TEST_CASE("troupe-tiny-en: troupe's held-out perplexity matches the stored PyTorch number") {
  const std::string ref = slurp(src("training/heldout_ppl.json"));
  const double ref_ppl = json_number(ref, "ppl");
  REQUIRE(std::isfinite(ref_ppl));
  const auto t = troupe_ppl();
  MESSAGE(fmt::format("troupe ppl {:.6f} (nll {:.6f}, {} tokens scored, window {}); PyTorch "
                      "stored {:.6f}; relative difference {:.2e}",
                      t.r.ppl, t.r.nll_per_token, t.r.n_scored, t.window, ref_ppl,
                      std::abs(t.r.ppl - ref_ppl) / ref_ppl));
  CHECK(t.r.n_scored == static_cast<std::size_t>(json_number(ref, "n_scored")));
  CHECK(t.r.n_tokens == static_cast<std::size_t>(json_number(ref, "n_tokens")));
  CHECK(std::abs(t.r.ppl - ref_ppl) / ref_ppl < rel_tolerance);
}

TEST_CASE("troupe-tiny-en: troupe's perplexity matches PyTorch recomputed live") {
  int status = 0;
  run("/usr/bin/python3 -c 'import torch, numpy' > /dev/null 2>&1", status);
  if (status != 0) {
    MESSAGE("SKIPPED: /usr/bin/python3 has no torch (apt-get install python3-torch); "
            "the live PyTorch recomputation did not run");
    return;
  }
  const auto t = troupe_ppl();
  troupe::test::temp_dir dir;
  const fs::path out = dir.path() / "ppl.json";
  run(fmt::format("/usr/bin/python3 '{}' --model '{}' --file '{}' --ctx {} --json '{}' > /dev/null",
                  src("training/eval_ppl.py").string(), src("models/troupe-tiny-en.gguf").string(),
                  src("training/heldout.txt").string(), t.window, out.string()),
      status);
  REQUIRE(status == 0);
  const double live = json_number(slurp(out), "ppl");
  MESSAGE(fmt::format("troupe {:.6f} vs PyTorch live {:.6f}", t.r.ppl, live));
  CHECK(std::abs(t.r.ppl - live) / live < rel_tolerance);
}

TEST_CASE("troupe-tiny-en: `troupe perplexity` prints the library's number") {
  const char* bin = std::getenv("TROUPE_BIN");
  if (bin == nullptr) {
    MESSAGE("SKIPPED: TROUPE_BIN is not set (run through ctest)");
    return;
  }
  const auto t = troupe_ppl();
  int status = 0;
  const std::string out = run(fmt::format("'{}' perplexity --model '{}' --file '{}' --ctx {} -t 2",
                                          bin, src("models/troupe-tiny-en.gguf").string(),
                                          src("training/heldout.txt").string(), t.window),
                              status);
  REQUIRE(status == 0);
  CHECK(json_number(out, "ppl") == doctest::Approx(t.r.ppl).epsilon(1e-6));
  CHECK(static_cast<std::size_t>(json_number(out, "n_scored")) == t.r.n_scored);
}
