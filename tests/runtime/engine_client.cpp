// The engine-backed inference client on small random models (weights N(0, 0.1), greedy):
// continuous batching gives the same tokens as running alone, the bounded queue refuses with
// errc::overloaded, cancellation and deadlines free sequence slots, stop strings cut the text.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>
#include <troupe/runtime/envelope.hpp>

#include "support/generation_outcomes.hpp"
#include "support/random_model_file.hpp"

using namespace troupe::runtime;

namespace {

/// A model file written once per test.
struct model_file : troupe::test::random_model_file {
  explicit model_file(std::uint64_t seed = 3) : random_model_file(seed) {}
};

using outcomes = troupe::test::generation_outcomes;
using troupe::test::run_alone;

generation_request request(std::string id, std::string text, int max_tokens = 24) {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"system", "You are terse."}, {"user", std::move(text)}};
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  return r;
}

std::shared_ptr<engine_client> client_for(const model_file& m, std::size_t max_sequences,
                                          std::size_t queue_capacity = 16) {
  engine_options o;
  o.default_model = m.path;
  o.max_sequences = max_sequences;
  o.queue_capacity = queue_capacity;
  o.prefill_chunk_tokens = 16;  // prompts take several steps: chunks and decodes interleave
  o.n_threads = 2;
  auto c = make_engine_client(o);
  REQUIRE(c);
  return *c;
}

const std::vector<std::string> prompts = {
    "Tell me about the sea.", "Why is the sky blue? Explain slowly and in detail, please.",
    "List three colours.", "A much longer question about engines, batching, caches and whether they agree."};

} // namespace

TEST_CASE("engine client: batched greedy output equals each request run alone") {
  model_file m;
  auto solo_client = client_for(m, 1);
  std::vector<generation_result> solo;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    auto r = run_alone(*solo_client, request(fmt::format("s{}", i), prompts[i]));
    REQUIRE(r);
    CHECK(r->completion_tokens > 0);
    solo.push_back(*r);
  }
  CHECK(solo_client->stats().max_batch_sequences == 1);

  // The others join from the first piece of b0: it is running then, so they batch with it.
  auto c = client_for(m, 4);
  outcomes out;
  bool joined = false;
  c->generate(request("b0", prompts[0]),
              [&](std::string_view) {
                if (joined) return;
                joined = true;
                for (std::size_t i = 1; i < prompts.size(); ++i)
                  c->generate(request(fmt::format("b{}", i), prompts[i]), {}, out.done(fmt::format("b{}", i)));
              },
              out.done("b0"));
  out.wait(prompts.size());
  REQUIRE(joined);
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const auto& r = out.only(fmt::format("b{}", i));
    REQUIRE(r);
    CHECK(r->text == solo[i].text);
    CHECK(r->completion_tokens == solo[i].completion_tokens);
    CHECK(r->prompt_tokens == solo[i].prompt_tokens);
    CHECK(r->finish_reason == solo[i].finish_reason);
  }
  CHECK(c->stats().max_batch_sequences >= 2);
}

TEST_CASE("engine client: concurrent requests from several threads each complete exactly once") {
  model_file m;
  auto c = client_for(m, 3, 32);
  outcomes out;
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t)
    callers.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        const auto id = fmt::format("t{}-{}", t, i);
        c->generate(request(id, prompts[static_cast<std::size_t>(i)], 8), out.piece(id), out.done(id));
      }
    });
  for (auto& th : callers) th.join();
  out.wait(12);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second on_done would show here
  CHECK(out.by_id.size() == 12);
  for (auto& [id, rs] : out.by_id) {
    REQUIRE(rs.size() == 1);
    REQUIRE(rs.front());
    CHECK(rs.front()->request_id == id);
    CHECK(rs.front()->text == out.pieces[id]);  // the pieces stream the whole text
    CHECK(rs.front()->completion_tokens > 0);
  }
  CHECK(c->stats().completed == 12);
}

TEST_CASE("engine client: a full queue refuses with errc::overloaded and a retry hint") {
  model_file m;
  auto c = client_for(m, 1, 1);
  outcomes out;
  bool submitted = false;
  c->generate(request("a", prompts[0], 16),
              [&](std::string_view) {
                if (submitted) return;
                submitted = true;  // "a" holds the only slot; "b" fills the queue; "c" is refused
                c->generate(request("b", prompts[1], 4), {}, out.done("b"));
                c->generate(request("c", prompts[2], 4), {}, out.done("c"));
              },
              out.done("a"));
  out.wait(3);
  const auto& refused = out.only("c");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::overloaded);
  CHECK(refused.error().message.find("retry in about") != std::string::npos);
  CHECK(out.only("a"));
  CHECK(out.only("b"));
}

TEST_CASE("engine client: cancel ends a running request and frees its slot for a waiting one") {
  model_file m;
  auto c = client_for(m, 1, 4);
  outcomes out;
  bool once = false;
  c->generate(request("long", prompts[0], 400),
              [&](std::string_view) {
                if (once) return;
                once = true;
                c->generate(request("next", prompts[1], 8), {}, out.done("next"));
                c->generate(request("queued", prompts[2], 8), {}, out.done("queued"));
                c->cancel("queued");  // waiting: fails at once
                c->cancel("long");    // running: its slot frees at the next step
              },
              out.done("long"));
  out.wait(3);
  const auto& cancelled = out.only("long");
  REQUIRE_FALSE(cancelled);
  CHECK(cancelled.error().code == errc::cancelled);
  const auto& queued = out.only("queued");
  REQUIRE_FALSE(queued);
  CHECK(queued.error().code == errc::cancelled);
  const auto& next = out.only("next");
  REQUIRE(next);
  CHECK(next->completion_tokens > 0);
  c->cancel("long");  // finished ids are ignored
  c->cancel("never-seen");
}

TEST_CASE("engine client: deadlines end waiting and running requests with errc::timeout") {
  model_file m;
  auto c = client_for(m, 1);
  auto past = request("past", prompts[0]);
  past.deadline_ms = now_ms() - 1;
  auto r = run_alone(*c, past);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::timeout);

  outcomes out;
  auto soon = request("soon", prompts[0], 400);
  soon.deadline_ms = now_ms() + 100;
  bool slept = false;
  c->generate(std::move(soon),
              [&](std::string_view) {
                if (slept) return;
                slept = true;  // hold the worker past the deadline
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
              },
              out.done("soon"));
  out.wait(1);
  const auto& expired = out.only("soon");
  REQUIRE_FALSE(expired);
  CHECK(expired.error().code == errc::timeout);
}

TEST_CASE("engine client: stop strings cut the text; max_tokens ends with 'length'") {
  model_file m;
  auto c = client_for(m, 2);
  auto full = run_alone(*c, request("full", prompts[1], 32));
  REQUIRE(full);
  INFO("text: " << full->text);
  REQUIRE(full->text.size() >= 8);
  if (full->completion_tokens == 32) CHECK(full->finish_reason == "length");
  const auto stop = full->text.substr(full->text.size() / 2, 3);
  auto req = request("cut", prompts[1], 32);
  req.sampling.stop = {stop};
  auto cut = run_alone(*c, req);
  REQUIRE(cut);
  CHECK(cut->text == full->text.substr(0, full->text.find(stop)));
  CHECK(cut->finish_reason == "stop");
}

TEST_CASE("engine client: a prompt longer than the context keeps its latest tokens") {
  model_file m;  // n_ctx 512
  auto c = client_for(m, 1);
  std::string many;
  for (int i = 0; i < 400; ++i) many += fmt::format("word{} ", i);
  auto r = run_alone(*c, request("long", many, 8));
  REQUIRE(r);
  CHECK(r->prompt_tokens < 512);
  CHECK(r->prompt_tokens + r->completion_tokens <= 512);
  CHECK(r->completion_tokens > 0);
}

TEST_CASE("engine client: unknown profiles, bad model files, shutdown") {
  model_file m;
  engine_options o;
  o.profile_models = {{"chat", m.path}, {"other", m.path}};  // one model, loaded once
  auto c = make_engine_client(o);
  REQUIRE(c);
  auto req = request("p", prompts[0], 4);
  req.profile = "other";
  CHECK(run_alone(**c, req));
  req.request_id = "q";
  req.profile = "missing";
  auto none = run_alone(**c, req);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == errc::not_found);
  (*c)->shutdown();
  req.request_id = "r";
  req.profile = "chat";
  auto stopped = run_alone(**c, req);
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == errc::stopped);

  engine_options bad;
  bad.default_model = (m.dir / "absent.gguf").string();
  auto e = make_engine_client(bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("absent.gguf") != std::string::npos);
}
