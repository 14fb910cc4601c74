// `troupe serve`: troupe's engine behind an OpenAI-compatible HTTP endpoint until SIGINT or
// SIGTERM.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <pthread.h>

#include <troupe/runtime/engine_client.hpp>
#include <troupe/runtime/openai_server.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

struct serve_args {
  std::string model_path;
  std::string model_name;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::size_t threads = 0;
  std::size_t max_sequences = 4;
  std::size_t queue = 64;
  std::size_t ctx = 0;
  std::size_t max_connections = 0;  // 0: max_sequences + queue + 4
};

exit_code run_serve(const serve_args& a) {
  // Signals go to sigwait() below: block them before any thread starts, so all inherit it.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is an error value, not a signal

  runtime::engine_options eo;
  eo.default_model = a.model_path;
  eo.n_threads = a.threads;
  eo.max_sequences = a.max_sequences;
  eo.queue_capacity = a.queue;
  eo.context_tokens = a.ctx;
  auto engine = runtime::make_engine_client(eo);
  if (!engine) {
    fmt::print(stderr, "troupe serve: {}\n", engine.error().message);
    return exit_code::invalid_input;
  }
  runtime::serve_options so;
  so.host = a.host;
  so.port = a.port;
  so.model_name = a.model_name.empty() ? std::filesystem::path(a.model_path).stem().string() : a.model_name;
  // Enough connection threads for every request the engine accepts (so that a full engine
  // answers 503 rather than leaving connections waiting), plus a few for /health and refusals.
  so.max_connections = a.max_connections != 0 ? a.max_connections : a.max_sequences + a.queue + 4;
  so.retry_after_ms = eo.retry_after_ms;
  auto server = runtime::start_openai_server(*engine, so);
  if (!server) {
    fmt::print(stderr, "troupe serve: {}\n", server.error().message);
    return exit_code::unavailable;
  }
  fmt::print("troupe serve: listening on http://{}:{} (model {})\n", a.host, (*server)->port(), so.model_name);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  fmt::print(stderr, "troupe serve: stopping ({})\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->stop();
  (*engine)->shutdown();
  return exit_code::ok;
}

} // namespace

void add_serve_command(CLI::App& app, exit_code& code) {
  auto a = std::make_shared<serve_args>();
  auto* cmd = app.add_subcommand("serve", "Serve a GGUF model over an OpenAI-compatible HTTP API");
  cmd->add_option("--model,-m", a->model_path, "GGUF model file")->required();
  cmd->add_option("--host", a->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a->port, "TCP port (0 = any free port, printed at start)")->capture_default_str();
  cmd->add_option("--threads,-t", a->threads, "Engine threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--max-sequences", a->max_sequences, "Requests decoded together")->capture_default_str();
  cmd->add_option("--queue", a->queue, "Requests waiting beyond those; more get HTTP 503")->capture_default_str();
  cmd->add_option("--ctx", a->ctx, "KV cache tokens per sequence (0 = min(model's, 4096))");
  cmd->add_option("--max-connections", a->max_connections,
                  "HTTP connections served at once (0 = max-sequences + queue + 4)");
  cmd->add_option("--model-name", a->model_name, "Model id reported by /v1/models (default: file name)");
  cmd->callback([a, &code] { code = run_serve(*a); });
}

} // namespace troupe::cli
