// The OpenAI-compatible HTTP inference client against a TEST DOUBLE server (an in-test
// cpp-httplib server speaking the OpenAI streaming format, tests/support/fake_openai_server.hpp):
// streaming, the request it sends, creation errors, concurrency, corrupted streams.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <random>

#include "support/fake_openai_server.hpp"

using namespace troupe::test::openai;

TEST_CASE("openai client: streams pieces in order, with finish reason and usage") {
  const std::vector<std::string> pieces = {"Hel", "lo", ", ", "wörld", "!"};
  fake_server server(stream_reply(sse_of(pieces, "length")));
  auto c = client_for(server.url());
  collector col;
  auto r = run_one(*c, col, request("a"));
  REQUIRE(r);
  CHECK(r->request_id == "a");
  CHECK(r->text == "Hello, wörld!");
  CHECK(col.pieces["a"] == "Hello, wörld!");
  CHECK(r->finish_reason == "length");
  CHECK(r->prompt_tokens == 11);
  CHECK(r->completion_tokens == 5);
}

TEST_CASE("openai client: the request body carries messages and sampling; the key goes in a header") {
  std::mutex m;
  std::string body, auth, accept;
  std::string path;
  fake_server server([&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(m);
      body = req.body;
      auth = req.get_header_value("Authorization");
      accept = req.get_header_value("Accept");
    }
    stream_reply(sse_of({"ok"}))(req, res);
  });
  ::setenv("TROUPE_TEST_OPENAI_KEY", "sekrit-123", 1);
  openai_options o;
  o.base_url = server.url() + "/v1/";  // an OpenAI-SDK-style base URL: /v1 is not doubled
  o.model = "tiny-model";
  o.api_key_env = "TROUPE_TEST_OPENAI_KEY";
  auto c = make_openai_client(o);
  REQUIRE(c);
  auto req = request("b", "what is 2+2?");
  req.sampling.temperature = 0.25f;
  req.sampling.top_p = 0.5f;
  req.sampling.top_k = 7;
  req.sampling.min_p = 0.125f;
  req.sampling.repeat_penalty = 1.5f;
  req.sampling.max_tokens = 33;
  req.sampling.seed = 42;
  req.sampling.stop = {"\n\n", "END"};
  collector col;
  auto r = run_one(**c, col, req);
  REQUIRE(r);
  CHECK(r->text == "ok");
  std::lock_guard lock(m);
  CHECK(auth == "Bearer sekrit-123");
  CHECK(accept == "text/event-stream");
  const auto j = json::parse(body);
  CHECK(j["model"] == "tiny-model");
  CHECK(j["stream"] == true);
  REQUIRE(j["messages"].size() == 2);
  CHECK(j["messages"][0] == json{{"role", "system"}, {"content", "be brief"}});
  CHECK(j["messages"][1] == json{{"role", "user"}, {"content", "what is 2+2?"}});
  CHECK(j["temperature"].get<double>() == doctest::Approx(0.25));
  CHECK(j["top_p"].get<double>() == doctest::Approx(0.5));
  CHECK(j["top_k"] == 7);
  CHECK(j["min_p"].get<double>() == doctest::Approx(0.125));
  CHECK(j["repeat_penalty"].get<double>() == doctest::Approx(1.5));
  CHECK(j["max_tokens"] == 33);
  CHECK(j["seed"] == 42);
  CHECK(j["stop"] == json{"\n\n", "END"});
}

TEST_CASE("openai client: a missing key variable and a malformed URL are refused at creation") {
  openai_options o;
  o.base_url = "http://127.0.0.1:1";
  o.api_key_env = "TROUPE_TEST_SURELY_UNSET_VARIABLE";
  auto c = make_openai_client(o);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == errc::invalid_argument);
  CHECK(c.error().message.find("TROUPE_TEST_SURELY_UNSET_VARIABLE") != std::string::npos);
  for (const char* bad : {"127.0.0.1:8080", "ftp://x", "http://", "http://h:99999", "http://h:x"}) {
    o = {};
    o.base_url = bad;
    auto d = make_openai_client(o);
    INFO(bad);
    REQUIRE_FALSE(d);
    CHECK(d.error().code == errc::invalid_argument);
  }
}

TEST_CASE("openai client: a server that answers with one JSON object (no stream) still works") {
  fake_server server([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],)"
                    R"("usage":{"prompt_tokens":3,"completion_tokens":1}})",
                    "application/json");
  });
  auto c = client_for(server.url());
  collector col;
  auto r = run_one(*c, col, request("j"));
  REQUIRE(r);
  CHECK(r->text == "whole");
  CHECK(col.pieces["j"] == "whole");
  CHECK(r->completion_tokens == 1);
}

TEST_CASE("openai client: many concurrent requests each get their own stream, once") {
  fake_server server([](const httplib::Request& req, httplib::Response& res) {
    const auto who = json::parse(req.body)["messages"][1]["content"].get<std::string>();
    stream_reply(sse_of({who, "-", "a", "-", "b"}), 3)(req, res);
  });
  auto c = client_for(server.url(), 4, 64);
  collector col;
  constexpr int n = 48;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int i = t; i < n; i += 4) {
        const auto id = fmt::format("q{}", i);
        c->generate(request(id, id), col.piece(id), col.done(id));
      }
    });
  for (auto& t : callers) t.join();
  col.wait(n);
  for (int i = 0; i < n; ++i) {
    const auto id = fmt::format("q{}", i);
    auto r = col.only(id);
    REQUIRE(r);
    CHECK(r->text == id + "-a-b");
    CHECK(col.pieces[id] == id + "-a-b");
  }
}

TEST_CASE("openai client: corrupted streams over HTTP never crash and always end once") {
  // Each request's user text is a seed; the server corrupts a valid stream with it.
  const std::string valid = sse_of({"alpha", " beta", " gamma", "\xE2\x82\xAC"});
  fake_server server([&](const httplib::Request& req, httplib::Response& res) {
    const auto seed = std::stoul(json::parse(req.body)["messages"][1]["content"].get<std::string>());
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const auto at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        case 2: s.insert(at, std::string(1 + rng() % 3, "\n\r:{}\"[]"[rng() % 8])); break;
        default: s.resize(at); break;
      }
    }
    stream_reply(s, 1 + rng() % 16)(req, res);
  });
  auto c = client_for(server.url(), 4, 512);
  collector col;
  constexpr int n = 300;
  for (int i = 0; i < n; ++i) c->generate(request(fmt::format("f{}", i), std::to_string(i)), nullptr, col.done(fmt::format("f{}", i)));
  col.wait(n);
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto r = col.only(fmt::format("f{}", i));  // exactly one outcome each
    if (r) ++ok;
    else CHECK((r.error().code == errc::protocol || r.error().code == errc::unavailable));
  }
  MESSAGE(fmt::format("{} of {} corrupted streams still decoded", ok, n));
}
