// bench_tokenizer: encode throughput of troupe's tokenizers beside llama.cpp's, same vocabulary
// file, same text, same run, one thread. Links libllama as the peer (bench-only; never part of
// troupe's libraries).
//
//   bench_tokenizer [--json] [--reps N] [--bytes N] [--models DIR]
//
// For each of the llama-spm, llama-bpe, qwen2 and gpt-2 vocabularies shipped with llama.cpp's
// source bundle (DIR, default .deps/llama/src/models), the text is that vocabulary's own test
// inputs (ggml-vocab-*.gguf.inp: every language and edge case the tokenizer tests use), joined
// by newlines and repeated to about N bytes (default 1 MB). Best of N timed encodes each
// (default 3). "same ids" says whether both produced the same token ids for the whole text.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <ggml-backend.h>
#include <llama.h>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

namespace {

void quiet(ggml_log_level, const char*, void*) {}

template <class F>
double best_seconds(int reps, F f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

/// The test inputs of a vocabulary (cases separated by "__ggml_vocab_test__" lines), joined by
/// newlines and repeated up to about `bytes`. Empty when the file cannot be read.
std::string corpus(const std::string& inp_path, std::size_t bytes) {
  std::ifstream in(inp_path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string raw = ss.str(), sep = "\n__ggml_vocab_test__\n";
  std::string once;
  for (std::size_t at = 0; at < raw.size();) {
    std::size_t end = raw.find(sep, at);
    if (end == std::string::npos) end = raw.size();
    once.append(raw, at, end - at).push_back('\n');
    at = end + sep.size();
  }
  if (once.empty()) return {};
  std::string text;
  while (text.size() < bytes) text += once;
  return text;
}

struct row {
  std::string vocab;
  std::size_t bytes = 0, tokens = 0;
  double troupe_mb_s = 0, llama_mb_s = 0;
  bool same = false;
};

/// Measures one vocabulary; false (with a message on stderr) when a side cannot load it.
bool measure(const std::string& dir, const std::string& name, std::size_t bytes, int reps, row& out) {
  const std::string path = fmt::format("{}/ggml-vocab-{}.gguf", dir, name);
  const std::string text = corpus(path + ".inp", bytes);
  if (text.empty()) {
    fmt::print(stderr, "bench_tokenizer: cannot read the test inputs {}.inp\n", path);
    return false;
  }
  auto file = troupe::inference::gguf_file::open(path);
  if (!file) {
    fmt::print(stderr, "bench_tokenizer: {}\n", file.error().message);
    return false;
  }
  auto tok = troupe::inference::tokenizer::from_gguf(*file);
  if (!tok) {
    fmt::print(stderr, "bench_tokenizer: {}: {}\n", path, tok.error().message);
    return false;
  }
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(path.c_str(), mp);
  if (model == nullptr) {
    fmt::print(stderr, "bench_tokenizer: llama.cpp cannot load {}\n", path);
    return false;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  std::vector<std::int32_t> ours;
  std::vector<llama_token> theirs(text.size() + 16);
  int n_theirs = 0;
  const double t_ours = best_seconds(reps, [&] { ours = tok->encode(text, false, false); });
  const double t_theirs = best_seconds(reps, [&] {
    n_theirs = llama_tokenize(vocab, text.data(), static_cast<std::int32_t>(text.size()), theirs.data(),
                              static_cast<std::int32_t>(theirs.size()), false, false);
  });
  llama_model_free(model);
  theirs.resize(static_cast<std::size_t>(std::max(n_theirs, 0)));
  const double mb = static_cast<double>(text.size()) / 1e6;
  out = {name, text.size(), ours.size(), mb / t_ours, mb / t_theirs,
         std::equal(ours.begin(), ours.end(), theirs.begin(), theirs.end())};
  return true;
}

} // namespace

int main(int argc, char** argv) {
  bool json = false;
  int reps = 3;
  std::size_t bytes = 1'000'000;
  std::string dir = ".deps/llama/src/models";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--json") json = true;
    else if (a == "--reps" && has_value) reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--bytes" && has_value) bytes = std::max<long>(1, std::atol(argv[++i]));
    else if (a == "--models" && has_value) dir = argv[++i];
    else {
      fmt::print(stderr, "usage: bench_tokenizer [--json] [--reps N] [--bytes N] [--models DIR]\n");
      return 2;
    }
  }
  llama_log_set(quiet, nullptr);
  ggml_backend_load_all_from_path(TROUPE_LLAMA_LIB_DIR);
  llama_backend_init();
  std::vector<row> rows;
  bool ok = true;
  for (const char* name : {"llama-spm", "llama-bpe", "qwen2", "gpt-2"}) {
    row r;
    if (measure(dir, name, bytes, reps, r)) rows.push_back(r);
    else ok = false;
  }
  llama_backend_free();
  if (json) {
    fmt::print("[");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const row& r = rows[i];
      fmt::print("{}{{\"vocab\":\"{}\",\"bytes\":{},\"tokens\":{},\"troupe_mb_s\":{:.3f},\"llama_mb_s\":{:.3f},"
                 "\"ratio\":{:.3f},\"same_ids\":{}}}",
                 i ? "," : "", r.vocab, r.bytes, r.tokens, r.troupe_mb_s, r.llama_mb_s,
                 r.troupe_mb_s / r.llama_mb_s, r.same);
    }
    fmt::print("]\n");
  } else {
    fmt::print("{:<10} {:>9} {:>8} {:>12} {:>15} {:>7}  {}\n", "vocab", "bytes", "tokens", "troupe MB/s",
               "llama.cpp MB/s", "ratio", "same ids");
    for (const row& r : rows)
      fmt::print("{:<10} {:>9} {:>8} {:>12.2f} {:>15.2f} {:>6.2f}x  {}\n", r.vocab, r.bytes, r.tokens,
                 r.troupe_mb_s, r.llama_mb_s, r.troupe_mb_s / r.llama_mb_s, r.same ? "yes" : "NO");
    fmt::print("encode, one thread, best of {}; ratio = troupe / llama.cpp, same run\n", reps);
  }
  return ok ? 0 : 1;
}
