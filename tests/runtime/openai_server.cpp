// The OpenAI-compatible server in front of a TEST DOUBLE inference client (a puppet the test
// drives), reached through the real HTTP client (make_openai_client) and raw cpp-httplib
// requests: streaming round trip, whole replies, status mapping, disconnect -> cancel, stop.
#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <troupe/runtime/openai_client.hpp>
#include <troupe/runtime/openai_server.hpp>

using namespace troupe::runtime;
using json = nlohmann::json;

namespace {

/// TEST DOUBLE: answers at once with the user's text split in words (mode `echo`), refuses
/// (mode `refuse`), or holds each request (first piece "held", no outcome) until cancelled.
class puppet final : public inference_client {
public:
  enum class mode { echo, refuse, hold };
  mode how = mode::echo;

  void generate(generation_request r, piece_callback on_piece, done_callback on_done) override {
    std::unique_lock lock(m_);
    seen_.push_back(r);
    cv_.notify_all();
    if (how == mode::refuse) {
      lock.unlock();
      on_done(fail(errc::overloaded, "queue full; retry in about 1000 ms"));
      return;
    }
    if (how == mode::hold) {
      held_[r.request_id] = std::move(on_done);
      lock.unlock();
      on_piece("held");
      return;
    }
    lock.unlock();
    generation_result out;
    out.request_id = r.request_id;
    const auto& text = r.messages.back().content;
    for (std::size_t i = 0; i < text.size();) {
      const auto sp = text.find(' ', i);
      const auto piece = text.substr(i, sp == std::string::npos ? std::string::npos : sp + 1 - i);
      on_piece(piece);
      out.text += piece;
      ++out.completion_tokens;
      i = sp == std::string::npos ? text.size() : sp + 1;
    }
    out.prompt_tokens = 17;
    out.finish_reason = "length";
    on_done(std::move(out));
  }

  void cancel(std::string_view id) override {
    done_callback done;
    {
      std::lock_guard lock(m_);
      cancelled_.emplace_back(id);
      cv_.notify_all();
      auto it = held_.find(std::string{id});
      if (it == held_.end()) return;
      done = std::move(it->second);
      held_.erase(it);
    }
    done(fail(errc::cancelled, "cancelled"));
  }

  std::vector<generation_request> seen() {
    std::lock_guard lock(m_);
    return seen_;
  }
  void wait_seen(std::size_t n) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return seen_.size() >= n; });
  }
  void wait_cancelled(std::size_t n) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return cancelled_.size() >= n; });
  }
  std::vector<std::string> cancelled() {
    std::lock_guard lock(m_);
    return cancelled_;
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<generation_request> seen_;
  std::vector<std::string> cancelled_;
  std::map<std::string, done_callback> held_;
};

struct fixture {
  std::shared_ptr<puppet> engine = std::make_shared<puppet>();
  std::unique_ptr<openai_server> server;
  fixture() {
    serve_options o;
    o.port = 0;
    o.model_name = "puppet-1";
    auto s = start_openai_server(engine, o);
    REQUIRE(s);
    server = std::move(*s);
    REQUIRE(server->port() > 0);
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", server->port()); }
  std::shared_ptr<inference_client> client() const {
    openai_options o;
    o.base_url = url();
    auto c = make_openai_client(o);
    REQUIRE(c);
    return *c;
  }
};

/// Runs one generation through `c`, waiting for its outcome; pieces go to `pieces`.
result<generation_result> run(inference_client& c, generation_request r, std::string* pieces = nullptr) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<result<generation_result>> out;
  c.generate(
      std::move(r),
      [&](std::string_view p) {
        std::lock_guard lock(m);
        if (pieces) *pieces += p;
      },
      [&](result<generation_result> x) {
        std::lock_guard lock(m);
        out = std::move(x);
        cv.notify_all();
      });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

generation_request request(std::string id, std::string text) {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"system", "sys"}, {"user", std::move(text)}};
  return r;
}

} // namespace

TEST_CASE("openai server: a streamed round trip through the HTTP client keeps messages, sampling and pieces") {
  fixture f;
  auto c = f.client();
  auto r = request("x", "the quick brown fox");
  r.sampling.temperature = 0.5f;
  r.sampling.top_k = 9;
  r.sampling.top_p = 0.75f;
  r.sampling.min_p = 0.25f;
  r.sampling.repeat_penalty = 1.25f;
  r.sampling.max_tokens = 21;
  r.sampling.seed = 77;
  r.sampling.stop = {"STOP"};
  std::string pieces;
  auto out = run(*c, r, &pieces);
  REQUIRE(out);
  CHECK(out->text == "the quick brown fox");
  CHECK(pieces == "the quick brown fox");
  CHECK(out->finish_reason == "length");
  CHECK(out->prompt_tokens == 17);
  CHECK(out->completion_tokens == 4);
  const auto seen = f.engine->seen();
  REQUIRE(seen.size() == 1);
  const auto& s = seen[0];
  REQUIRE(s.messages.size() == 2);
  CHECK(s.messages[0].role == "system");
  CHECK(s.messages[1].content == "the quick brown fox");
  CHECK(s.sampling.temperature == doctest::Approx(0.5));
  CHECK(s.sampling.top_k == 9);
  CHECK(s.sampling.top_p == doctest::Approx(0.75));
  CHECK(s.sampling.min_p == doctest::Approx(0.25));
  CHECK(s.sampling.repeat_penalty == doctest::Approx(1.25));
  CHECK(s.sampling.max_tokens == 21);
  CHECK(s.sampling.seed == std::optional<std::uint64_t>{77});
  CHECK(s.sampling.stop == std::vector<std::string>{"STOP"});
}

TEST_CASE("openai server: a non-streamed request gets one chat.completion object") {
  fixture f;
  httplib::Client h(f.url());
  auto res = h.Post("/v1/chat/completions",
                    R"({"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}]})",
                    "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  const auto j = json::parse(res->body);
  CHECK(j["object"] == "chat.completion");
  CHECK(j["model"] == "puppet-1");
  CHECK(j["choices"][0]["message"]["content"] == "hi there");
  CHECK(j["choices"][0]["finish_reason"] == "length");
  CHECK(j["usage"]["prompt_tokens"] == 17);
  CHECK(j["usage"]["total_tokens"] == 19);
}

TEST_CASE("openai server: overloaded is 503 with Retry-After, which the client reads as errc::overloaded") {
  fixture f;
  f.engine->how = puppet::mode::refuse;
  httplib::Client h(f.url());
  auto res = h.Post("/v1/chat/completions", R"({"messages":[{"role":"user","content":"a"}],"stream":true})",
                    "application/json");
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->get_header_value("Retry-After") == "1");
  auto c = f.client();
  auto out = run(*c, request("o", "a"));
  REQUIRE_FALSE(out);
  CHECK(out.error().code == errc::overloaded);
  CHECK(out.error().message.find("retry in about 1000 ms") != std::string::npos);
}

TEST_CASE("openai server: bad requests are 400 naming the field; models, health and unknown paths") {
  fixture f;
  httplib::Client h(f.url());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{", "not valid JSON"},
      {R"({"messages":[]})", "messages"},
      {R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature"},
      {R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":3})", "n"},
  };
  for (const auto& [body, field] : bad) {
    auto res = h.Post("/v1/chat/completions", body, "application/json");
    INFO(body);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(json::parse(res->body)["error"]["message"].get<std::string>().find(field) != std::string::npos);
  }
  CHECK(f.engine->seen().empty());
  auto models = h.Get("/v1/models");
  REQUIRE(models);
  CHECK(json::parse(models->body)["data"][0]["id"] == "puppet-1");
  auto health = h.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto missing = h.Get("/v2/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"]["message"].get<std::string>().find("/v2/nothing") != std::string::npos);
}

TEST_CASE("openai server: a client that disconnects mid-stream has its generation cancelled") {
  fixture f;
  f.engine->how = puppet::mode::hold;
  auto c = f.client();
  std::mutex m;
  std::condition_variable cv;
  std::string pieces;
  std::optional<result<generation_result>> out;
  c->generate(
      request("d", "x"),
      [&](std::string_view p) {
        std::lock_guard lock(m);
        pieces += p;
        cv.notify_all();
      },
      [&](result<generation_result> r) {
        std::lock_guard lock(m);
        out = std::move(r);
        cv.notify_all();
      });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return pieces == "held"; });
  }
  c->cancel("d");  // closes the connection
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return out.has_value(); });
    CHECK(out->error().code == errc::cancelled);
  }
  f.engine->wait_cancelled(1);  // the server noticed on its next write and cancelled
  const auto seen = f.engine->seen();
  REQUIRE(seen.size() == 1);
  CHECK(f.engine->cancelled() == std::vector<std::string>{seen[0].request_id});
}

TEST_CASE("openai server: stop() cancels streams in flight and returns") {
  fixture f;
  f.engine->how = puppet::mode::hold;
  auto c = f.client();
  std::mutex m;
  std::condition_variable cv;
  std::optional<result<generation_result>> out;
  std::string pieces;
  c->generate(
      request("s", "x"),
      [&](std::string_view p) {
        std::lock_guard lock(m);
        pieces += p;
        cv.notify_all();
      },
      [&](result<generation_result> r) {
        std::lock_guard lock(m);
        out = std::move(r);
        cv.notify_all();
      });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return pieces == "held"; });  // the stream is running
  }
  f.server->stop();
  CHECK(f.engine->cancelled().size() == 1);
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return out.has_value(); });
  REQUIRE_FALSE(*out);
  CHECK(out->error().message == "cancelled");  // the engine's error, sent as the stream's last event
}
