// bench_llama_peer: the llama.cpp side of bench_engine. Links libllama (bench-only; never part
// of troupe's libraries), loads a GGUF file and times prefill of a prompt of token ids and
// greedy decode, printing one JSON line: {"prefill_tok_s": ..., "decode_tok_s": ...}.
// Usage: bench_llama_peer LIB_DIR MODEL N_PROMPT N_GEN THREADS REPS
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ggml-backend.h>
#include <llama.h>

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void quiet(ggml_log_level, const char*, void*) {}

} // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s LIB_DIR MODEL N_PROMPT N_GEN THREADS REPS\n", argv[0]);
    return 2;
  }
  const int n_prompt = std::atoi(argv[3]), n_gen = std::atoi(argv[4]);
  const int threads = std::atoi(argv[5]), reps = std::atoi(argv[6]);
  llama_log_set(quiet, nullptr);
  ggml_backend_load_all_from_path(argv[1]);
  llama_backend_init();
  auto mp = llama_model_default_params();
  llama_model* model = llama_model_load_from_file(argv[2], mp);
  if (model == nullptr) {
    std::fprintf(stderr, "cannot load %s\n", argv[2]);
    return 1;
  }
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  auto cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(n_prompt + n_gen + 8);
  cp.n_batch = static_cast<uint32_t>(n_prompt);
  cp.n_ubatch = static_cast<uint32_t>(n_prompt);
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (ctx == nullptr) return 1;

  std::vector<llama_token> prompt(static_cast<std::size_t>(n_prompt));
  for (int i = 0; i < n_prompt; ++i) prompt[static_cast<std::size_t>(i)] = (i * 7919 + 13) % n_vocab;
  double best_prefill = 0, best_decode = 0;
  for (int r = 0; r < reps + 1; ++r) {  // first round warms up
    llama_memory_clear(llama_get_memory(ctx), true);
    const double t0 = now_s();
    if (llama_decode(ctx, llama_batch_get_one(prompt.data(), n_prompt)) != 0) return 1;
    const double t1 = now_s();
    const float* logits = llama_get_logits_ith(ctx, -1);
    llama_token next = static_cast<llama_token>(std::max_element(logits, logits + n_vocab) - logits);
    const double t2 = now_s();
    for (int i = 0; i < n_gen; ++i) {
      if (llama_decode(ctx, llama_batch_get_one(&next, 1)) != 0) return 1;
      logits = llama_get_logits_ith(ctx, -1);
      next = static_cast<llama_token>(std::max_element(logits, logits + n_vocab) - logits);
    }
    const double t3 = now_s();
    if (r == 0) continue;
    best_prefill = std::max(best_prefill, n_prompt / (t1 - t0));
    best_decode = std::max(best_decode, n_gen / (t3 - t2));
  }
  std::printf("{\"prefill_tok_s\": %.3f, \"decode_tok_s\": %.3f}\n", best_prefill, best_decode);
  llama_free(ctx);
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
