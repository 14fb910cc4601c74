// `troupe serve` end to end: the real binary serves a random model written by the test; the
// HTTP inference client streams from it, and greedy replies equal the engine client's own
// replies for the same prompts (in-process, same model and thread count).
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>
#include <troupe/runtime/openai_client.hpp>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

using namespace troupe::runtime;
using json = nlohmann::json;

namespace {

/// A `troupe serve` process; SIGTERM on destruction.
struct serve_process {
  pid_t pid = -1;
  std::filesystem::path log;
  int port = 0;

  serve_process(const std::string& model, const std::filesystem::path& log_path) : log(log_path) {
    std::vector<std::string> args = {troupe::test::troupe_bin(), "serve", "--model", model, "--port", "0",
                                     "--threads", "1", "--max-sequences", "2", "--queue", "4"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    // Wait for the "listening on" line (a guard against a hung start, not a timing check).
    const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+))");
    for (int i = 0; i < 1200 && port == 0; ++i) {
      std::ifstream in(log);
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      const auto text = ss.str();
      if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
      else if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        FAIL("troupe serve exited early: " << text);
      } else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(port > 0);
  }

  /// Sends SIGTERM and returns the exit status (-1 when it did not exit normally).
  int stop() {
    if (pid < 0) return -1;
    ::kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  ~serve_process() { stop(); }
  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}", port); }
};

/// Pieces and outcome of one generation, waited for.
struct outcome {
  std::mutex m;
  std::condition_variable cv;
  std::string pieces;
  std::optional<result<generation_result>> done;
  piece_callback on_piece() {
    return [this](std::string_view p) {
      std::lock_guard lock(m);
      pieces += p;
    };
  }
  done_callback on_done() {
    return [this](result<generation_result> r) {
      std::lock_guard lock(m);
      done = std::move(r);
      cv.notify_all();
    };
  }
  result<generation_result> wait() {
    std::unique_lock lock(m);
    cv.wait(lock, [this] { return done.has_value(); });
    return *done;
  }
};

generation_request greedy(std::string id, std::string user) {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"system", "You answer briefly."}, {"user", std::move(user)}};
  r.sampling.temperature = 0;
  r.sampling.max_tokens = 16;
  return r;
}

/// What a JSON encoder makes of `text` (invalid UTF-8 replaced by U+FFFD): the server sends
/// the engine's bytes as JSON strings.
std::string as_json_text(const std::string& text) {
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

} // namespace

TEST_CASE("serve: greedy replies streamed over HTTP equal the engine's own, and SIGTERM exits 0") {
  troupe::test::temp_dir dir("troupe-serve");
  troupe::inference::model_spec spec;
  spec.n_ctx = 512;
  spec.weight_std = 0.1f;
  spec.seed = 11;
  const auto model = (dir / "m.gguf").string();
  REQUIRE(troupe::inference::write_random_model(spec, model));

  const std::vector<std::string> prompts = {"Tell me about the sea.", "What is two plus two?", "Name a colour."};
  std::vector<generation_result> expected;
  {
    engine_options eo;
    eo.default_model = model;
    eo.n_threads = 1;
    auto engine = make_engine_client(eo);
    REQUIRE(engine);
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      outcome o;
      (*engine)->generate(greedy(fmt::format("e{}", i), prompts[i]), o.on_piece(), o.on_done());
      auto r = o.wait();
      REQUIRE(r);
      REQUIRE(r->completion_tokens > 0);
      expected.push_back(*r);
    }
  }

  serve_process serve(model, dir / "serve.log");
  openai_options oo;
  oo.base_url = serve.url();
  auto client = make_openai_client(oo);
  REQUIRE(client);

  SUBCASE("streamed, one at a time and then all at once (batched by the engine)") {
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      outcome o;
      (*client)->generate(greedy(fmt::format("s{}", i), prompts[i]), o.on_piece(), o.on_done());
      auto r = o.wait();
      REQUIRE(r);
      CHECK(r->text == as_json_text(expected[i].text));
      CHECK(o.pieces == r->text);
      CHECK(r->completion_tokens == expected[i].completion_tokens);
      CHECK(r->prompt_tokens == expected[i].prompt_tokens);
      CHECK(r->finish_reason == expected[i].finish_reason);
      MESSAGE(fmt::format("reply {}: {} tokens, {:?}", i, r->completion_tokens, r->text));
    }
    std::vector<std::unique_ptr<outcome>> all;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      all.push_back(std::make_unique<outcome>());
      (*client)->generate(greedy(fmt::format("c{}", i), prompts[i]), all[i]->on_piece(), all[i]->on_done());
    }
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      auto r = all[i]->wait();
      REQUIRE(r);
      CHECK(r->text == as_json_text(expected[i].text));
    }
  }
  SUBCASE("not streamed: one JSON object; models and health") {
    httplib::Client h(serve.url());
    h.set_read_timeout(std::chrono::seconds(300));
    const json body = {{"messages", {{{"role", "system"}, {"content", "You answer briefly."}},
                                     {{"role", "user"}, {"content", prompts[0]}}}},
                       {"temperature", 0},
                       {"max_tokens", 16}};
    auto res = h.Post("/v1/chat/completions", body.dump(), "application/json");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    const auto j = json::parse(res->body);
    CHECK(j["choices"][0]["message"]["content"] == as_json_text(expected[0].text));
    CHECK(j["usage"]["completion_tokens"] == expected[0].completion_tokens);
    auto models = h.Get("/v1/models");
    REQUIRE(models);
    CHECK(json::parse(models->body)["data"][0]["id"] == "m");
    auto health = h.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
  client->reset();
  CHECK(serve.stop() == 0);
}

TEST_CASE("serve: a missing model file fails with exit code 3 and names the file") {
  const auto r = troupe::test::run_command(fmt::format("'{}' serve --model /nonexistent/x.gguf --port 0",
                                                       troupe::test::troupe_bin()));
  CHECK(r.status == 3);
  CHECK(r.output.find("/nonexistent/x.gguf") != std::string::npos);
}
