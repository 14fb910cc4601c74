// Test-data helper, never part of troupe: tokenizes each input of a llama.cpp-style .inp file
// (inputs separated by "\n__ggml_vocab_test__\n") with llama.cpp's own tokenizer and writes
// one line of ids per input, for tests/data/tokenizer/. Links the prebuilt libllama in
// .deps/llama/lib; build and run from the repository root:
//
//   g++ -std=c++20 -O1 inference/tools/llama_tokenize_oracle.cpp -I.deps/llama/src/include \
//     -I.deps/llama/src/ggml/include -L.deps/llama/lib -l:libllama.v0.5.0.so \
//     -l:libggml.v0.5.0.so -l:libggml-base.so -Wl,-rpath,$PWD/.deps/llama/lib -o /tmp/oracle
//   /tmp/oracle .deps/llama/src/models/ggml-vocab-qwen2.gguf IN.inp OUT.out [add_special parse_special]
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ggml-backend.h>
#include <llama.h>

static void quiet(ggml_log_level, const char*, void*) {}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf IN.inp OUT.out [add_special parse_special]\n", argv[0]);
    return 2;
  }
  const bool add_special = argc == 6 && std::string(argv[4]) == "1";
  const bool parse_special = argc == 6 && std::string(argv[5]) == "1";
  llama_log_set(quiet, nullptr);
  ggml_backend_load_all_from_path(".deps/llama/lib");
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], mp);
  if (model == nullptr) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);

  std::ifstream in(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string raw = ss.str();
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::ofstream out(argv[3], std::ios::binary);
  for (std::size_t pos = 0; pos < raw.size();) {
    std::size_t next = raw.find(sep, pos);
    const std::string text = raw.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    pos = next == std::string::npos ? raw.size() : next + sep.size();
    std::vector<llama_token> ids(text.size() + 8);
    const int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                                 static_cast<int32_t>(ids.size()), add_special, parse_special);
    if (n < 0) {
      std::fprintf(stderr, "token buffer too small\n");
      return 1;
    }
    for (int i = 0; i < n; ++i) out << ' ' << ids[static_cast<std::size_t>(i)];
    out << '\n';
  }
  llama_model_free(model);
  return 0;
}
