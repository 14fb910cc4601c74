// bench_llama_peer: the llama.cpp side of bench_engine and bench_batching. Links libllama
// (bench-only; never part of troupe's libraries) and loads a GGUF file.
//
//   bench_llama_peer LIB_DIR MODEL N_PROMPT N_GEN THREADS REPS
//     times prefill of a prompt of token ids and greedy decode of one sequence, printing one
//     JSON line: {"prefill_tok_s": ..., "decode_tok_s": ...}
//   bench_llama_peer LIB_DIR MODEL N_PROMPT N_GEN THREADS REPS N_SEQ[,N_SEQ...]
//     batched decoding: for each N_SEQ, N_SEQ sequences each get an N_PROMPT-token prompt
//     (not timed), then N_GEN steps decode one token of every sequence in one llama_batch
//     (one seq_id per token); prints one JSON line per N_SEQ:
//     {"n_seq": N, "decode_tok_s": ...} with the aggregate tokens per second.
//
// Settings (the same as troupe's side): n_ubatch = n_batch = the prompt (so prefill is one
// graph), flash attention and KV types at libllama's defaults (auto, F16), THREADS for both
// single-token and batch graphs, a warm-up round before the REPS timed rounds (best kept).
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

llama_token argmax(const float* logits, int n_vocab) {
  return static_cast<llama_token>(std::max_element(logits, logits + n_vocab) - logits);
}

llama_token prompt_token(int seq, int i, int n_vocab) { return (i * 7919 + 13 + seq * 104729) % n_vocab; }

llama_context* make_context(llama_model* model, int n_seq, int n_prompt, int n_gen, int threads) {
  auto cp = llama_context_default_params();
  cp.n_seq_max = static_cast<uint32_t>(n_seq);
  cp.n_ctx = static_cast<uint32_t>(n_seq * (n_prompt + n_gen + 8));
  cp.n_batch = static_cast<uint32_t>(std::max(n_prompt, n_seq));
  cp.n_ubatch = cp.n_batch;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  return llama_init_from_model(model, cp);
}

int single(llama_model* model, int n_vocab, int n_prompt, int n_gen, int threads, int reps) {
  llama_context* ctx = make_context(model, 1, n_prompt, n_gen, threads);
  if (ctx == nullptr) return 1;
  std::vector<llama_token> prompt(static_cast<std::size_t>(n_prompt));
  for (int i = 0; i < n_prompt; ++i) prompt[static_cast<std::size_t>(i)] = prompt_token(0, i, n_vocab);
  double best_prefill = 0, best_decode = 0;
  for (int r = 0; r < reps + 1; ++r) {  // first round warms up
    llama_memory_clear(llama_get_memory(ctx), true);
    const double t0 = now_s();
    if (llama_decode(ctx, llama_batch_get_one(prompt.data(), n_prompt)) != 0) return 1;
    const double t1 = now_s();
    llama_token next = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
    const double t2 = now_s();
    for (int i = 0; i < n_gen; ++i) {
      if (llama_decode(ctx, llama_batch_get_one(&next, 1)) != 0) return 1;
      next = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
    }
    const double t3 = now_s();
    if (r == 0) continue;
    best_prefill = std::max(best_prefill, n_prompt / (t1 - t0));
    best_decode = std::max(best_decode, n_gen / (t3 - t2));
  }
  std::printf("{\"prefill_tok_s\": %.3f, \"decode_tok_s\": %.3f}\n", best_prefill, best_decode);
  llama_free(ctx);
  return 0;
}

void set_token(llama_batch& b, int i, llama_token tok, int pos, int seq, bool logits) {
  b.token[i] = tok;
  b.pos[i] = pos;
  b.n_seq_id[i] = 1;
  b.seq_id[i][0] = seq;
  b.logits[i] = logits ? 1 : 0;
}

int batched(llama_model* model, int n_vocab, int n_prompt, int n_gen, int threads, int reps, int n_seq) {
  llama_context* ctx = make_context(model, n_seq, n_prompt, n_gen, threads);
  if (ctx == nullptr) return 1;
  llama_batch b = llama_batch_init(std::max(n_prompt, n_seq), 0, 1);
  std::vector<llama_token> next(static_cast<std::size_t>(n_seq));
  double best = 0;
  for (int r = 0; r < reps + 1; ++r) {  // first round warms up
    llama_memory_clear(llama_get_memory(ctx), true);
    for (int s = 0; s < n_seq; ++s) {  // prompts, one sequence per call (not timed)
      b.n_tokens = n_prompt;
      for (int i = 0; i < n_prompt; ++i) set_token(b, i, prompt_token(s, i, n_vocab), i, s, i == n_prompt - 1);
      if (llama_decode(ctx, b) != 0) return 1;
      next[static_cast<std::size_t>(s)] = argmax(llama_get_logits_ith(ctx, n_prompt - 1), n_vocab);
    }
    const double t0 = now_s();
    for (int step = 0; step < n_gen; ++step) {
      b.n_tokens = n_seq;
      for (int s = 0; s < n_seq; ++s) set_token(b, s, next[static_cast<std::size_t>(s)], n_prompt + step, s, true);
      if (llama_decode(ctx, b) != 0) return 1;
      for (int s = 0; s < n_seq; ++s) next[static_cast<std::size_t>(s)] = argmax(llama_get_logits_ith(ctx, s), n_vocab);
    }
    const double t1 = now_s();
    if (r > 0) best = std::max(best, n_seq * n_gen / (t1 - t0));
  }
  std::printf("{\"n_seq\": %d, \"decode_tok_s\": %.3f}\n", n_seq, best);
  std::fflush(stdout);
  llama_batch_free(b);
  llama_free(ctx);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: %s LIB_DIR MODEL N_PROMPT N_GEN THREADS REPS [N_SEQ,...]\n", argv[0]);
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
  int rc = 0;
  if (argc == 7) {
    rc = single(model, n_vocab, n_prompt, n_gen, threads, reps);
  } else {
    for (const char* p = argv[7]; rc == 0 && *p != '\0';) {
      char* end = nullptr;
      const long n = std::strtol(p, &end, 10);
      if (end == p || n <= 0) break;
      rc = batched(model, n_vocab, n_prompt, n_gen, threads, reps, static_cast<int>(n));
      p = *end == ',' ? end + 1 : end;
    }
  }
  llama_model_free(model);
  llama_backend_free();
  return rc;
}
