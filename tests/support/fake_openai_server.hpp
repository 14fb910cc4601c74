// TEST DOUBLE for the HTTP inference client's tests: an OpenAI-style endpoint run by the
// test itself (cpp-httplib on 127.0.0.1, any free port), with helpers to write event streams
// and collect outcomes. Include only from tests that link troupe_httplib.
#pragma once

#include <doctest/doctest.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <troupe/runtime/openai_client.hpp>

namespace troupe::test::openai {

using namespace troupe::runtime;
using json = nlohmann::json;

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
    while (!svr.is_running()) std::this_thread::yield();  // stop() before that would be lost
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
inline std::string sse_of(const std::vector<std::string>& pieces, const std::string& finish = "stop",
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
inline handler stream_reply(std::string body, std::size_t chunk = 7) {
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

inline generation_request request(std::string id, std::string text = "hello") {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"system", "be brief"}, {"user", std::move(text)}};
  return r;
}

inline std::shared_ptr<inference_client> client_for(const std::string& url, std::size_t max_concurrent = 4,
                                             std::size_t queue = 64) {
  openai_options o;
  o.base_url = url;
  o.max_concurrent = max_concurrent;
  o.queue_capacity = queue;
  auto c = make_openai_client(o);
  REQUIRE(c);
  return *c;
}

inline result<generation_result> run_one(inference_client& c, collector& col, generation_request r) {
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

} // namespace troupe::test::openai
