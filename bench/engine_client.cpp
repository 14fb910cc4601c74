// Continuous batching in the engine client: N greedy requests one at a time (max_sequences 1)
// against the same N submitted together (max_sequences N), measured in the same run.
// Usage: bench_engine_client [MODEL.gguf] [--requests N] [--tokens T] [--threads K]
// Without a model it writes a random one (n_embd 1024, 8 layers, f16) to the temp directory.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>

#include "story_requests.hpp"

using namespace troupe;

namespace {

using row = bench::story_run;

/// The batch of requests on a fresh engine client with `slots` sequences decoding together.
row run(const std::string& model, std::size_t n, int max_tokens, std::size_t slots, std::size_t threads) {
  runtime::engine_options o;
  o.default_model = model;
  o.max_sequences = slots;
  o.n_threads = threads;
  o.context_tokens = 1024;
  auto c = runtime::make_engine_client(o);
  if (!c) {
    fmt::print(stderr, "{}\n", c.error().message);
    std::exit(1);
  }
  return bench::run_story_requests(**c, n, max_tokens);
}

} // namespace

int main(int argc, char** argv) {
  std::string model;
  std::size_t n = 8, threads = 0;
  int tokens = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--requests" && i + 1 < argc) n = std::stoul(argv[++i]);
    else if (a == "--tokens" && i + 1 < argc) tokens = std::stoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::stoul(argv[++i]);
    else model = a;
  }
  if (model.empty()) {
    inference::model_spec spec;
    spec.n_embd = 1024;
    spec.n_layer = 8;
    spec.n_head = 16;
    spec.n_head_kv = 4;
    spec.n_ff = 2816;
    spec.n_vocab = 8192;
    spec.n_ctx = 1024;
    spec.weight_type = inference::tensor_type::f16;
    model = (std::filesystem::temp_directory_path() / "troupe-bench-engine-client.gguf").string();
    if (auto ok = inference::write_random_model(spec, model); !ok) {
      fmt::print(stderr, "{}\n", ok.error().message);
      return 1;
    }
  }
  const row seq = run(model, n, tokens, 1, threads);
  const row bat = run(model, n, tokens, n, threads);
  fmt::print("{:<24} {:>8} {:>8} {:>9} {:>9}\n", "mode", "requests", "tokens", "wall s", "tok/s");
  fmt::print("{:<24} {:>8} {:>8} {:>9.3f} {:>9.1f}\n", "one at a time", n, seq.tokens, seq.wall_s, seq.tokens / seq.wall_s);
  fmt::print("{:<24} {:>8} {:>8} {:>9.3f} {:>9.1f}\n", "continuous batching", n, bat.tokens, bat.wall_s, bat.tokens / bat.wall_s);
  fmt::print("batching speed-up: {:.2f}x\n", (bat.tokens / bat.wall_s) / (seq.tokens / seq.wall_s));
}
