// The OpenAI-compatible HTTP inference client against a TEST DOUBLE: an in-test cpp-httplib
// server on 127.0.0.1 (any free port) whose handler each test writes, speaking the OpenAI
// streaming format (or failing in the ways real servers fail).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <troupe/runtime/openai_client.hpp>

using namespace troupe::runtime;
using json = nlohmann::json;

namespace {

using handler = std::function<void(const httplib::Request&, httplib::Response&)>;

/// TEST DOUBLE: an OpenAI-style endpoint run by the test.
struct fake_server {
  httplib::Server svr;
  int port = 0;
  std::thread thread;
  explicit fake_server(handler h) {
    svr.Post("/v1/chat/completions", std::move(h));
    port = svr.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  ~fake_server() {
    svr.stop();
    thread.join();
  }
  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}", port); }
};

/// A latch the test opens; server handlers wait on it (always opened before the server stops).
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  int arrived = 0;
  void wait() {
    std::unique_lock lock(m);
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [this] { return open; });
  }
  void wait_arrivals(int n) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return arrived >= n; });
  }
  void release() {
    std::lock_guard lock(m);
    open = true;
    cv.notify_all();
  }
};

/// The SSE text of a stream of content pieces (one event each), an optional finish chunk
/// with usage, and [DONE].
std::string sse_of(const std::vector<std::string>& pieces, const std::string& finish = "stop",
                   bool usage = true) {
  std::string out = ": a comment the client ignores\r\n\r\n";
  for (const auto& p : pieces)
    out += "data: " + json{{"choices", {{{"index", 0}, {"delta", {{"content", p}}}, {"finish_reason", nullptr}}}}}.dump() + "\n\n";
  json last{{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", finish}}}}};
  if (usage) last["usage"] = {{"prompt_tokens", 11}, {"completion_tokens", pieces.size()}};
  out += "data: " + last.dump() + "\r\n\r\n";
  out += "data: [DONE]\n\n";
  return out;
}

/// Replies with `body` as an event stream, written in chunks of `chunk` bytes.
handler stream_reply(std::string body, std::size_t chunk = 7) {
  return [body = std::move(body), chunk](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [body, chunk](std::size_t, httplib::DataSink& sink) {
      for (std::size_t i = 0; i < body.size(); i += chunk)
        if (!sink.write(body.data() + i, std::min(chunk, body.size() - i))) return false;
      sink.done();
      return true;
    });
  };
}

/// Collects the pieces and the single outcome of each request.
struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::map<std::string, std::string> pieces;
  std::map<std::string, std::vector<result<generation_result>>> outcomes;
  std::size_t n = 0;
  piece_callback piece(const std::string& id) {
    return [this, id](std::string_view p) {
      std::lock_guard lock(m);
      pieces[id] += p;
      cv.notify_all();
    };
  }
  done_callback done(const std::string& id) {
    return [this, id](result<generation_result> r) {
      std::lock_guard lock(m);
      outcomes[id].push_back(std::move(r));
      ++n;
      cv.notify_all();
    };
  }
  void wait(std::size_t count) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return n >= count; });
  }
  void wait_piece(const std::string& id) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return !pieces[id].empty(); });
  }
  result<generation_result> only(const std::string& id) {
    std::lock_guard lock(m);
    REQUIRE(outcomes[id].size() == 1);
    return outcomes[id].front();
  }
};

generation_request request(std::string id, std::string text = "hello") {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"system", "be brief"}, {"user", std::move(text)}};
  return r;
}

std::shared_ptr<inference_client> client_for(const std::string& url, std::size_t max_concurrent = 4,
                                             std::size_t queue = 64) {
  openai_options o;
  o.base_url = url;
  o.max_concurrent = max_concurrent;
  o.queue_capacity = queue;
  auto c = make_openai_client(o);
  REQUIRE(c);
  return *c;
}

result<generation_result> run_one(inference_client& c, collector& col, generation_request r) {
  const auto id = r.request_id;
  std::size_t before = 0;
  {
    std::lock_guard lock(col.m);
    before = col.n;
  }
  c.generate(std::move(r), col.piece(id), col.done(id));
  col.wait(before + 1);
  return col.only(id);
}

} // namespace

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

TEST_CASE("openai client: HTTP 429 and 503 are errc::overloaded with the server's Retry-After") {
  int status = 429;
  fake_server server([&](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_header("Retry-After", "7");
    res.set_content(R"({"error":{"message":"slow down","type":"rate_limit_error"}})", "application/json");
  });
  auto c = client_for(server.url());
  collector col;
  for (int s : {429, 503}) {
    status = s;
    auto r = run_one(*c, col, request(fmt::format("r{}", s)));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::overloaded);
    CHECK(r.error().message.find("slow down") != std::string::npos);
    CHECK(r.error().message.find("retry in about 7000 ms") != std::string::npos);
  }
}

TEST_CASE("openai client: other HTTP errors carry the server's message and status") {
  int status = 500;
  fake_server server([&](const httplib::Request&, httplib::Response& res) {
    res.status = status;
    res.set_content(R"({"error":{"message":"kaboom in the kernel","type":"server_error"}})", "application/json");
  });
  auto c = client_for(server.url());
  collector col;
  const std::map<int, errc> expected = {{500, errc::unavailable}, {400, errc::invalid_argument},
                                        {401, errc::invalid_argument}, {404, errc::not_found}};
  for (const auto& [s, code] : expected) {
    status = s;
    auto r = run_one(*c, col, request(fmt::format("r{}", s)));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == code);
    CHECK(r.error().message.find("kaboom in the kernel") != std::string::npos);
    CHECK(r.error().message.find(fmt::format("HTTP {}", s)) != std::string::npos);
    CHECK(r.error().message.find(server.url() + "/v1/chat/completions") != std::string::npos);
  }
}

TEST_CASE("openai client: a refused connection is errc::unavailable naming the URL") {
  // Take a free port and give it back without listening: connections there are refused.
  int port = 0;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  const auto url = fmt::format("http://127.0.0.1:{}", port);
  auto c = client_for(url);
  collector col;
  auto r = run_one(*c, col, request("x"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::unavailable);
  CHECK(r.error().message.find(url) != std::string::npos);
}

TEST_CASE("openai client: malformed streams are errc::protocol naming what was wrong") {
  std::string body;
  fake_server server([&](const httplib::Request& req, httplib::Response& res) { stream_reply(body, 5)(req, res); });
  auto c = client_for(server.url());
  collector col;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"data: {not json}\n\n", "not valid JSON"},
      {"data: [1,2]\n\n", "not a JSON object"},
      {"data: {\"choices\": 3}\n\n", "not an array"},
      {"data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n", "delta.content is not a string"},
      {"data: {\"id\":\"x\"}\n\n", "no \"choices\""},
      {"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "without data: [DONE]"},
      {sse_of({"a"}).substr(0, 60), "not valid JSON"},  // cut inside the JSON of an event
  };
  int i = 0;
  for (const auto& [text, why] : cases) {
    body = text;
    auto r = run_one(*c, col, request(fmt::format("m{}", i++)));
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::protocol);
    CHECK(r.error().message.find(why) != std::string::npos);
  }
}

TEST_CASE("openai client: an error event mid-stream (llama.cpp's error: line) ends with the server's message") {
  fake_server server(stream_reply("data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n"
                                  "error: {\"code\":500,\"message\":\"context overflow\",\"type\":\"server_error\"}\n\n"));
  auto c = client_for(server.url());
  collector col;
  auto r = run_one(*c, col, request("e"));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::unavailable);
  CHECK(r.error().message == "context overflow");
  CHECK(col.pieces["e"] == "par");
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

TEST_CASE("openai client: a server that stalls mid-stream ends in errc::timeout (deadline and read timeout)") {
  gate g;
  fake_server server([&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [&](std::size_t, httplib::DataSink& sink) {
      const std::string first = "data: {\"choices\":[{\"delta\":{\"content\":\"slow\"}}]}\n\n";
      sink.write(first.data(), first.size());
      g.wait();  // says nothing more until the test ends
      return false;
    });
  });
  collector col;
  {
    auto c = client_for(server.url());
    auto req = request("d");
    req.deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count() + 300;
    auto r = run_one(*c, col, req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::timeout);
    CHECK(r.error().message.find("deadline") != std::string::npos);
    CHECK(col.pieces["d"] == "slow");
  }
  {
    openai_options o;
    o.base_url = server.url();
    o.read_timeout_ms = 300;
    auto c = make_openai_client(o);
    REQUIRE(c);
    auto r = run_one(**c, col, request("silent"));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::timeout);
    CHECK(r.error().message.find("sent nothing for 300 ms") != std::string::npos);
  }
  g.release();
}

TEST_CASE("openai client: cancel mid-stream closes the connection and reports errc::cancelled") {
  gate g;
  std::atomic<bool> write_failed{false};
  fake_server server([&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [&](std::size_t, httplib::DataSink& sink) {
      const std::string first = "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n";
      sink.write(first.data(), first.size());
      g.wait();  // the server goes quiet: cancel must not wait for it
      // The client has closed the connection by now: writing more eventually fails.
      const std::string more = "data: {\"choices\":[{\"delta\":{\"content\":\"more\"}}]}\n\n";
      for (int i = 0; i < 1000 && !write_failed; ++i)
        if (!sink.write(more.data(), more.size())) write_failed = true;
      return false;
    });
  });
  auto c = client_for(server.url());
  collector col;
  c->generate(request("c"), col.piece("c"), col.done("c"));
  col.wait_piece("c");
  c->cancel("c");
  col.wait(1);
  auto r = col.only("c");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::cancelled);
  CHECK(col.pieces["c"] == "first");
  g.release();
  server.svr.stop();
  server.thread.join();
  server.thread = std::thread([] {});  // the fixture joins it again
  CHECK(write_failed);
  c->cancel("c");  // finished ids are ignored
}

TEST_CASE("openai client: the own queue is bounded: overloaded beyond it, cancel removes a waiting request") {
  gate g;
  fake_server server([&](const httplib::Request& req, httplib::Response& res) {
    g.wait();
    stream_reply(sse_of({json::parse(req.body)["messages"][1]["content"].get<std::string>()}))(req, res);
  });
  auto c = client_for(server.url(), 1, 2);
  collector col;
  c->generate(request("r1", "one"), col.piece("r1"), col.done("r1"));
  g.wait_arrivals(1);  // r1 holds the only connection
  c->generate(request("r2", "two"), col.piece("r2"), col.done("r2"));
  c->generate(request("r3", "three"), col.piece("r3"), col.done("r3"));
  c->generate(request("r4", "four"), col.piece("r4"), col.done("r4"));  // the queue (2) is full
  c->generate(request("r2", "dup"), col.piece("dup"), col.done("dup"));
  col.wait(2);
  auto over = col.only("r4");
  REQUIRE_FALSE(over);
  CHECK(over.error().code == errc::overloaded);
  CHECK(over.error().message.find("retry in about 1000 ms") != std::string::npos);
  auto dup = col.only("dup");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == errc::invalid_argument);
  c->cancel("r3");
  col.wait(3);
  auto cancelled = col.only("r3");
  REQUIRE_FALSE(cancelled);
  CHECK(cancelled.error().code == errc::cancelled);
  g.release();
  col.wait(5);
  CHECK(col.only("r1")->text == "one");
  CHECK(col.only("r2")->text == "two");
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

TEST_CASE("openai client: destroying the client ends waiting and running requests with errc::stopped") {
  gate g;
  fake_server server([&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/event-stream", [&](std::size_t, httplib::DataSink& sink) {
      g.wait();
      return false;
    });
  });
  collector col;
  {
    auto c = client_for(server.url(), 1, 4);
    c->generate(request("s1"), col.piece("s1"), col.done("s1"));
    g.wait_arrivals(1);
    c->generate(request("s2"), col.piece("s2"), col.done("s2"));
  }
  CHECK(col.n == 2);
  for (const char* id : {"s1", "s2"}) {
    auto r = col.only(id);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::stopped);
  }
  g.release();
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
