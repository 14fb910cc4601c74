// The cost of the HTTP path: N greedy requests submitted together to troupe's engine client
// in process (the peer), then the same N through start_openai_server + make_openai_client over
// 127.0.0.1 (SSE, one event per token), measured in the same run on the same model.
// Usage: bench_http_target [MODEL.gguf] [--requests N] [--tokens T] [--threads K] [--repeat R] [--json]
// Each path runs R times, alternating; the table shows the fastest run of each.
// Without a model it writes the tiny random model (n_embd 256, 2 layers) to the temp directory,
// where per-token HTTP overhead shows most.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>

#include "story_requests.hpp"
#include <troupe/runtime/openai_client.hpp>
#include <troupe/runtime/openai_server.hpp>

using namespace troupe;

namespace {

using row = bench::story_run;

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "bench_http_target: {}\n", what);
  std::exit(1);
}

} // namespace

int main(int argc, char** argv) {
  std::string model;
  std::size_t requests = 4, threads = 0, repeat = 5;
  int tokens = 64;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string{argv[++i]} : (die(a + " needs a value"), std::string{}); };
    if (a == "--requests") requests = std::stoul(next());
    else if (a == "--tokens") tokens = std::stoi(next());
    else if (a == "--threads") threads = std::stoul(next());
    else if (a == "--repeat") repeat = std::max<std::size_t>(1, std::stoul(next()));
    else if (a == "--json") json = true;
    else model = a;
  }
  std::filesystem::path tmp;
  if (model.empty()) {
    tmp = std::filesystem::temp_directory_path() / fmt::format("troupe-bench-http-{}", ::getpid());
    std::filesystem::create_directories(tmp);
    inference::model_spec spec;
    spec.n_ctx = 1024;
    model = (tmp / "tiny.gguf").string();
    if (!inference::write_random_model(spec, model)) die("cannot write the model");
  }
  runtime::engine_options eo;
  eo.default_model = model;
  eo.max_sequences = requests;
  eo.n_threads = threads;
  eo.context_tokens = 1024;
  auto engine = runtime::make_engine_client(eo);
  if (!engine) die(engine.error().message);
  bench::run_story_requests(**engine, 1, 4);  // warm-up

  runtime::serve_options so;
  so.port = 0;
  auto server = runtime::start_openai_server(*engine, so);
  if (!server) die(server.error().message);
  runtime::openai_options oo;
  oo.base_url = fmt::format("http://127.0.0.1:{}", (*server)->port());
  oo.max_concurrent = requests;
  auto client = runtime::make_openai_client(oo);
  if (!client) die(client.error().message);
  row direct, http;
  for (std::size_t k = 0; k < repeat; ++k) {
    const row d = bench::run_story_requests(**engine, requests, tokens);
    const row h = bench::run_story_requests(**client, requests, tokens);
    if (k == 0 || d.wall_s < direct.wall_s) direct = d;
    if (k == 0 || h.wall_s < http.wall_s) http = h;
  }
  client->reset();
  (*server)->stop();
  if (!tmp.empty()) std::filesystem::remove_all(tmp);

  const double direct_tok_s = direct.tokens / direct.wall_s, http_tok_s = http.tokens / http.wall_s;
  if (json) {
    fmt::print(R"({{"requests":{},"tokens":{},"direct":{{"tokens":{},"wall_s":{:.4f},"tok_s":{:.1f}}},)"
               R"("http":{{"tokens":{},"pieces":{},"failed":{},"wall_s":{:.4f},"tok_s":{:.1f}}},"ratio":{:.3f}}})"
               "\n",
               requests, tokens, direct.tokens, direct.wall_s, direct_tok_s, http.tokens, http.pieces, http.failed,
               http.wall_s, http_tok_s, http_tok_s / direct_tok_s);
    return 0;
  }
  fmt::print("{} greedy requests of {} tokens together, best of {}, model {}\n", requests, tokens, repeat, model);
  fmt::print("| path | tokens | wall s | tok/s | vs in-process |\n|---|---|---|---|---|\n");
  fmt::print("| engine client, in process (peer) | {} | {:.3f} | {:.1f} | 1.00 |\n", direct.tokens, direct.wall_s,
             direct_tok_s);
  fmt::print("| openai client -> troupe serve over 127.0.0.1 | {} | {:.3f} | {:.1f} | {:.2f} |\n", http.tokens,
             http.wall_s, http_tok_s, http_tok_s / direct_tok_s);
  if (http.failed != 0) fmt::print("({} HTTP requests failed)\n", http.failed);
  return 0;
}
