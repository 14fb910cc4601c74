// start_openai_server: cpp-httplib's server in front of an inference_client. Each chat request
// becomes one generation; its pieces travel from the client's thread to the connection's
// thread through a `pending` record.
#include "troupe/runtime/openai_server.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "http/connection_pool.hpp"
#include "http/server_json.hpp"

namespace troupe::runtime {

namespace {

using namespace detail;

/// How often an idle stream sends an SSE comment: it keeps proxies from timing out and lets
/// a failed write reveal a client that went away while the engine was still busy.
constexpr auto keep_alive_interval = std::chrono::milliseconds(1000);

/// One generation's pieces and outcome, handed from the client's thread (pushes) to the
/// connection's thread (pops). The piece queue is bounded by the request's max_tokens.
struct pending {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::string> pieces;                 ///< guarded by m
  std::optional<result<generation_result>> outcome; ///< guarded by m
  std::atomic<bool> delivered{false};             ///< the outcome reached the HTTP client
};

struct http_error {
  int status;
  const char* type;
};

http_error http_error_of(errc code) {
  switch (code) {
    case errc::overloaded: return {503, "overloaded_error"};
    case errc::stopped: return {503, "unavailable_error"};
    case errc::invalid_argument: return {400, "invalid_request_error"};
    case errc::not_found: return {404, "not_found_error"};
    case errc::timeout: return {504, "timeout_error"};
    default: return {500, "server_error"};
  }
}

class server_impl final : public openai_server {
public:
  server_impl(std::shared_ptr<inference_client> client, serve_options options)
      : client_(std::move(client)), options_(std::move(options)) {}
  ~server_impl() override { stop(); }

  result<void> start() {
    const auto n = options_.max_connections;
    // httplib owns the queue it gets from this factory (its API takes a raw pointer).
    svr_.new_task_queue = [n] { return new connection_pool(n, n); };
    svr_.set_payload_max_length(8 * 1024 * 1024);
    svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { chat(req, res); });
    svr_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(models_json(options_.model_name, started_s_), "application/json");
    });
    svr_.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    svr_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty())
        res.set_content(error_json(fmt::format("{} {}: HTTP {}", req.method, req.path, res.status), "not_found_error",
                                   res.status),
                        "application/json");
    });
    svr_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      res.status = 500;
      res.set_content(error_json("internal error", "server_error", 500), "application/json");
    });
    if (options_.port == 0) port_ = svr_.bind_to_any_port(options_.host);
    else port_ = svr_.bind_to_port(options_.host, options_.port) ? options_.port : -1;
    if (port_ <= 0)
      return fail(errc::unavailable, fmt::format("cannot listen on {}:{} (address in use or not available)",
                                                 options_.host, options_.port));
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return {};
  }

  int port() const override { return port_; }

  void stop() override {
    std::set<std::string> running;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      running = in_flight_;
    }
    for (const auto& id : running) client_->cancel(id);
    svr_.stop();
    if (thread_.joinable()) thread_.join();
  }

private:
  void reply_error(httplib::Response& res, const error& e) {
    const auto h = http_error_of(e.code);
    res.status = h.status;
    if (h.status == 503)
      res.set_header("Retry-After", std::to_string((options_.retry_after_ms + 999) / 1000));
    res.set_content(error_json(e.message, h.type, h.status), "application/json");
  }

  void forget(const std::string& id) {
    std::lock_guard lock(mutex_);
    in_flight_.erase(id);
  }

  void chat(const httplib::Request& req, httplib::Response& res) {
    auto call = parse_chat_call(req.body, options_.defaults);
    if (!call) return reply_error(res, call.error());
    const reply_head head{fmt::format("chatcmpl-{}-{}", started_s_, ++next_id_),
                          std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count(),
                          options_.model_name};
    call->request.request_id = head.id;
    call->request.agent = "http";
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return reply_error(res, {errc::stopped, "the server is shutting down"});
      in_flight_.insert(head.id);
    }
    auto p = std::make_shared<pending>();
    client_->generate(
        std::move(call->request),
        [p](std::string_view piece) {
          std::lock_guard lock(p->m);
          p->pieces.emplace_back(piece);
          p->cv.notify_all();
        },
        [p](result<generation_result> r) {
          std::lock_guard lock(p->m);
          p->outcome = std::move(r);
          p->cv.notify_all();
        });
    {
      std::lock_guard lock(mutex_);
      if (stopping_) client_->cancel(head.id);  // stop() may have run before generate() did
    }
    {
      std::lock_guard lock(p->m);
      // Refused at once (overloaded, stopped, ...): a plain HTTP error, not a stream.
      if (p->outcome && !*p->outcome && p->pieces.empty()) {
        forget(head.id);
        return reply_error(res, p->outcome->error());
      }
    }
    if (!call->stream) return reply_whole(res, head, p);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, head, p, include_usage = call->include_usage](std::size_t, httplib::DataSink& sink) {
          return stream(sink, head, *p, include_usage);
        },
        [this, client = client_, id = head.id, p](bool) {
          if (!p->delivered) client->cancel(id);  // the HTTP client went away first
          forget(id);
        });
  }

  void reply_whole(httplib::Response& res, const reply_head& head, const std::shared_ptr<pending>& p) {
    std::unique_lock lock(p->m);
    p->cv.wait(lock, [&] { return p->outcome.has_value(); });
    auto outcome = std::move(*p->outcome);
    lock.unlock();
    forget(head.id);
    if (!outcome) return reply_error(res, outcome.error());
    res.set_content(completion_json(head, *outcome), "application/json");
  }

  /// Writes the stream until the outcome; false when the HTTP client went away.
  bool stream(httplib::DataSink& sink, const reply_head& head, pending& p, bool include_usage) {
    auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
    auto event = [&write](const std::string& json) { return write("data: " + json + "\n\n"); };
    if (!event(chunk_json(head, "", true))) return false;
    std::string carry;  // the start of a UTF-8 character split between pieces
    for (;;) {
      std::deque<std::string> pieces;
      std::optional<result<generation_result>> outcome;
      {
        std::unique_lock lock(p.m);
        p.cv.wait_for(lock, keep_alive_interval, [&] { return !p.pieces.empty() || p.outcome.has_value(); });
        pieces.swap(p.pieces);
        if (p.outcome) outcome = std::move(p.outcome);
      }
      if (pieces.empty() && !outcome) {
        if (!write(": keep-alive\n\n")) return false;
        continue;
      }
      for (const auto& piece : pieces) {
        carry += piece;
        const auto k = utf8_complete_prefix(carry);
        if (k == 0) continue;
        if (!event(chunk_json(head, std::string_view(carry).substr(0, k), false))) return false;
        carry.erase(0, k);
      }
      if (!outcome) continue;
      if (!carry.empty() && !event(chunk_json(head, carry, false))) return false;
      p.delivered = true;
      if (*outcome) {
        const auto& r = **outcome;
        event(chunk_json(head, "", false, r.finish_reason.empty() ? "stop" : r.finish_reason, &r));
        if (include_usage) event(usage_chunk_json(head, r));
        write("data: [DONE]\n\n");
      } else {
        const auto h = http_error_of(outcome->error().code);
        event(error_json(outcome->error().message, h.type, h.status));
      }
      sink.done();
      return true;
    }
  }

  std::shared_ptr<inference_client> client_;
  const serve_options options_;
  const std::int64_t started_s_ =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<std::uint64_t> next_id_{0};
  std::mutex mutex_;
  std::set<std::string> in_flight_;  ///< ids of generations a connection waits on; guarded by mutex_
  bool stopping_ = false;            ///< guarded by mutex_
};

} // namespace

result<std::unique_ptr<openai_server>> start_openai_server(std::shared_ptr<inference_client> client,
                                                           serve_options options) {
  if (!client) return fail(errc::invalid_argument, "openai server: no inference client");
  if (options.max_connections == 0) return fail(errc::invalid_argument, "openai server: max_connections must be at least 1");
  auto s = std::make_unique<server_impl>(std::move(client), std::move(options));
  if (auto ok = s->start(); !ok) return tl::make_unexpected(ok.error());
  return s;
}

} // namespace troupe::runtime
