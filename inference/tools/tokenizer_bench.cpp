// Bench-only helper, never part of troupe: encode throughput of troupe's tokenizer and of
// llama.cpp's (prebuilt libllama, same vocabulary file, same text, same run), single thread.
// Build and run from the repository root after building troupe into build/:
//
//   g++ -std=c++20 -O2 inference/tools/tokenizer_bench.cpp -Iinference/include \
//     -I.deps/llama/src/include -I.deps/llama/src/ggml/include build/inference/libtroupe_inference.a \
//     -lfmt -L.deps/llama/lib -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so \
//     -Wl,-rpath,$PWD/.deps/llama/lib -o /tmp/tokenizer_bench
//   /tmp/tokenizer_bench .deps/llama/src/models/ggml-vocab-llama-bpe.gguf TEXT_FILE [repeat]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ggml-backend.h>
#include <llama.h>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/vocab.hpp>

static void quiet(ggml_log_level, const char*, void*) {}

template <class F>
static double best_seconds(int reps, F f) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = s < best ? s : best;
  }
  return best;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf TEXT_FILE [repeat]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text;
  const int repeat = argc > 3 ? std::atoi(argv[3]) : 1;
  for (int i = 0; i < repeat; ++i) text += ss.str();

  auto file = troupe::inference::gguf_file::open(argv[1]);
  if (!file) return 1;
  auto tok = troupe::inference::tokenizer::from_gguf(*file);
  if (!tok) {
    std::fprintf(stderr, "%s\n", tok.error().message.c_str());
    return 1;
  }
  llama_log_set(quiet, nullptr);
  ggml_backend_load_all_from_path(".deps/llama/lib");
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (model == nullptr) return 1;
  const llama_vocab* vocab = llama_model_get_vocab(model);

  std::vector<int32_t> ours;
  std::vector<llama_token> theirs(text.size() + 16);
  int n_theirs = 0;
  const double t_ours = best_seconds(3, [&] { ours = tok->encode(text, false, false); });
  const double t_theirs = best_seconds(3, [&] {
    n_theirs = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()),
                              theirs.data(), static_cast<int32_t>(theirs.size()), false, false);
  });
  theirs.resize(static_cast<std::size_t>(n_theirs < 0 ? 0 : n_theirs));
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf("| vocab | bytes | tokens | troupe MB/s | llama.cpp MB/s | troupe/llama.cpp | same ids |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %zu | %zu | %.2f | %.2f | %.2f | %s |\n", argv[1], text.size(), ours.size(),
              mb / t_ours, mb / t_theirs, t_theirs / t_ours,
              std::vector<int32_t>(theirs.begin(), theirs.end()) == ours ? "yes" : "NO");
  llama_model_free(model);
  return 0;
}
