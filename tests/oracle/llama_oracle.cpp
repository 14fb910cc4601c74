// llama_oracle — a test-only command-line front end to llama.cpp, the reference engine.
// Never linked into troupe; built only when .deps/llama is present.
//
//   llama_oracle MODEL [--tokens 1,2,3 | --text STRING] [--greedy N] [--dump-logits FILE]
//                      [--threads N] [--ctx N] [--kv-f32] [--lib-dir DIR] [--verbose]
//
// Prints "key value" lines to stdout: n_vocab, n_embd, n_layer, n_ctx_train; with --text,
// "text_tokens <ids>" (llama.cpp's tokenization, special tokens added as the model says, no
// parsing of special-token text), which then serve as the prompt; with a prompt,
// "prompt <ids>" and, with --greedy N, "greedy <N ids>" (each the argmax of the
// logits, fed back one at a time). --dump-logits writes every computed logits row as raw
// little-endian f32, row-major: one row of n_vocab values per prompt position, then one per
// greedy step after the first (row k of the greedy part produced greedy token k+1), so the file
// holds (n_prompt + max(N-1, 0)) * n_vocab floats. Exit status 0 on success, 1 on failure
// (message on stderr), 2 on a bad command line.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ggml-backend.h>
#include <llama.h>

#ifndef TROUPE_LLAMA_LIB_DIR
#define TROUPE_LLAMA_LIB_DIR "."
#endif

namespace {

struct options {
  std::string model;
  std::vector<llama_token> tokens;
  std::string text;
  bool has_text = false;
  int greedy = 0;
  std::string dump;
  int threads = 2;
  int n_ctx = 0;
  bool kv_f32 = false;
  std::string lib_dir = TROUPE_LLAMA_LIB_DIR;
  bool verbose = false;
};

bool verbose_log = false;

void log_cb(ggml_log_level level, const char* text, void*) {
  if (verbose_log || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

int usage(const char* why) {
  std::fprintf(stderr, "llama_oracle: %s\nusage: llama_oracle MODEL [--tokens 1,2,3 | --text STRING] [--greedy N] "
                       "[--dump-logits FILE] [--threads N] [--ctx N] [--kv-f32] [--lib-dir DIR] "
                       "[--verbose]\n", why);
  return 2;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--tokens" && (v = next())) {
      for (const char* p = v; *p;) {
        char* end = nullptr;
        const long t = std::strtol(p, &end, 10);
        if (end == p) return false;
        o.tokens.push_back(static_cast<llama_token>(t));
        p = *end == ',' ? end + 1 : end;
      }
    } else if (a == "--text" && (v = next())) {
      o.text = v;
      o.has_text = true;
    } else if (a == "--greedy" && (v = next())) {
      o.greedy = std::atoi(v);
    } else if (a == "--dump-logits" && (v = next())) {
      o.dump = v;
    } else if (a == "--threads" && (v = next())) {
      o.threads = std::atoi(v);
    } else if (a == "--ctx" && (v = next())) {
      o.n_ctx = std::atoi(v);
    } else if (a == "--lib-dir" && (v = next())) {
      o.lib_dir = v;
    } else if (a == "--kv-f32") {
      o.kv_f32 = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (!a.empty() && a[0] != '-' && o.model.empty()) {
      o.model = a;
    } else {
      return false;
    }
  }
  return !o.model.empty() && o.greedy >= 0 && (o.tokens.empty() || !o.has_text);
}

int argmax(const float* row, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (row[i] > row[best]) best = i;
  return best;
}

int run(options o) {
  verbose_log = o.verbose;
  llama_log_set(log_cb, nullptr);
  ggml_backend_load_all_from_path(o.lib_dir.c_str());
  llama_backend_init();

  llama_model_params mp = llama_model_default_params();
  llama_model* model = llama_model_load_from_file(o.model.c_str(), mp);
  if (model == nullptr) {
    std::fprintf(stderr, "llama_oracle: llama.cpp could not load '%s'\n", o.model.c_str());
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  std::printf("n_vocab %d\nn_embd %d\nn_layer %d\nn_ctx_train %d\n", n_vocab,
              llama_model_n_embd(model), llama_model_n_layer(model), llama_model_n_ctx_train(model));

  if (o.has_text) {
    std::vector<llama_token> ids(o.text.size() + 8);
    const int n = llama_tokenize(vocab, o.text.data(), static_cast<int32_t>(o.text.size()),
                                 ids.data(), static_cast<int32_t>(ids.size()), true, false);
    if (n < 0) {
      std::fprintf(stderr, "llama_oracle: tokenization failed\n");
      llama_model_free(model);
      return 1;
    }
    ids.resize(static_cast<std::size_t>(n));
    std::printf("text_tokens");
    for (auto t : ids) std::printf(" %d", t);
    std::printf("\n");
    if (o.tokens.empty()) o.tokens = ids;
  }

  int status = 0;
  if (!o.tokens.empty()) {
    const int n_prompt = static_cast<int>(o.tokens.size());
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = o.n_ctx > 0 ? o.n_ctx : ((n_prompt + o.greedy + 255) / 256) * 256;
    cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(n_prompt);
    cp.n_threads = cp.n_threads_batch = o.threads;
    if (o.kv_f32) {
      cp.type_k = cp.type_v = GGML_TYPE_F32;
      // Flash attention casts an F32 cache to F16 before use (llama-graph.cpp), which would
      // undo the point of --kv-f32: the plain path keeps K, V, KQ and softmax in F32.
      cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    }
    llama_context* ctx = llama_init_from_model(model, cp);
    if (ctx == nullptr) {
      std::fprintf(stderr, "llama_oracle: cannot create a context\n");
      llama_model_free(model);
      return 1;
    }
    std::vector<float> logits;  // (rows, n_vocab)
    llama_batch batch = llama_batch_init(n_prompt, 0, 1);
    for (int i = 0; i < n_prompt; ++i) {
      batch.token[i] = o.tokens[i];
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = 1;
    }
    batch.n_tokens = n_prompt;
    std::printf("prompt");
    for (auto t : o.tokens) std::printf(" %d", t);
    std::printf("\n");
    if (llama_decode(ctx, batch) != 0) {
      std::fprintf(stderr, "llama_oracle: llama_decode failed on the prompt\n");
      status = 1;
    } else {
      for (int i = 0; i < n_prompt; ++i) {
        const float* row = llama_get_logits_ith(ctx, i);
        logits.insert(logits.end(), row, row + n_vocab);
      }
      std::vector<llama_token> out;
      for (int k = 0; k < o.greedy && status == 0; ++k) {
        llama_token t = argmax(logits.data() + logits.size() - n_vocab, n_vocab);
        out.push_back(t);
        if (k + 1 == o.greedy) break;
        if (llama_decode(ctx, llama_batch_get_one(&t, 1)) != 0) {
          std::fprintf(stderr, "llama_oracle: llama_decode failed at greedy step %d\n", k + 1);
          status = 1;
          break;
        }
        const float* row = llama_get_logits_ith(ctx, -1);
        logits.insert(logits.end(), row, row + n_vocab);
      }
      if (o.greedy > 0) {
        std::printf("greedy");
        for (auto t : out) std::printf(" %d", t);
        std::printf("\n");
      }
      if (!o.dump.empty() && status == 0) {
        std::FILE* f = std::fopen(o.dump.c_str(), "wb");
        if (f == nullptr || std::fwrite(logits.data(), sizeof(float), logits.size(), f) != logits.size()) {
          std::fprintf(stderr, "llama_oracle: cannot write '%s'\n", o.dump.c_str());
          status = 1;
        }
        if (f != nullptr) std::fclose(f);
      }
    }
    llama_batch_free(batch);
    llama_free(ctx);
  }
  llama_model_free(model);
  llama_backend_free();
  return status;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) return usage("bad arguments");
  if (const char* dir = std::getenv("TROUPE_LLAMA_LIB_DIR")) o.lib_dir = dir;
  return run(o);
}
