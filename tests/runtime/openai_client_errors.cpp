// The OpenAI-compatible HTTP inference client's failure paths against a TEST DOUBLE server
// (tests/support/fake_openai_server.hpp): HTTP errors, refused connections, malformed streams,
// stalls and deadlines, cancellation, its own bounded queue, shutdown.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <random>

#include "support/fake_openai_server.hpp"

using namespace troupe::test::openai;

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST_CASE("openai client: dropping the last reference from inside its own callback is safe") {
  fake_server server(stream_reply(sse_of({"x"})));
  std::shared_ptr<inference_client> holder = client_for(server.url());
  inference_client* raw = holder.get();
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  raw->generate(request("z"), nullptr, [&](result<generation_result> r) {
    CHECK(r);
    holder.reset();  // destroys the client on its worker thread
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
  CHECK_FALSE(holder);
}
