#include "http/chat_exchange.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <httplib.h>

#include "http/chat_json.hpp"
#include "http/sse_parser.hpp"

namespace troupe::runtime::detail {

namespace {

constexpr std::size_t max_error_body_bytes = 64 * 1024;
constexpr std::size_t max_json_body_bytes = 16 * 1024 * 1024;

using steady = std::chrono::steady_clock;

std::int64_t ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

/// Retry-After as milliseconds (delta-seconds form; an HTTP date or nothing gives `fallback`).
std::size_t retry_after_ms(const std::string& header, std::size_t fallback) {
  std::size_t s = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), s);
  if (header.empty() || ec != std::errc{} || end != header.data() + header.size()) return fallback;
  return s * 1000;
}

/// What the response handler saw of the status line and headers.
struct response_head {
  int status = 0;
  bool event_stream = false;
  std::string retry_after;
};

error status_error(const exchange_settings& s, const response_head& head, const std::string& body,
                   std::size_t fallback_retry_ms) {
  const auto message = body.empty() ? std::string{"(no message)"} : error_message_of(body);
  const auto what = fmt::format("POST {}: HTTP {}: {}", s.url_text, head.status, message);
  if (head.status == 429 || head.status == 503)
    return {errc::overloaded,
            fmt::format("{}; retry in about {} ms", what, retry_after_ms(head.retry_after, fallback_retry_ms))};
  if (head.status == 404) return {errc::not_found, what};
  if (head.status >= 400 && head.status < 500) return {errc::invalid_argument, what};
  if (head.status >= 500) return {errc::unavailable, what};
  return {errc::protocol, fmt::format("POST {}: unexpected HTTP status {}", s.url_text, head.status)};
}

} // namespace

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void exchange_control::cancel() {
  cancelled_.store(true);
  std::lock_guard lock(mutex_);
  if (stop_) stop_();
}

void exchange_control::attach(std::function<void()> stop) {
  std::lock_guard lock(mutex_);
  stop_ = std::move(stop);
  if (cancelled_.load()) stop_();
}

void exchange_control::detach() {
  std::lock_guard lock(mutex_);
  stop_ = nullptr;
}

result<generation_result> run_chat_exchange(const exchange_settings& s, const generation_request& request,
                                            const piece_callback& on_piece, exchange_control& control) {
  const auto& id = request.request_id;
  const std::int64_t deadline = request.deadline_ms;
  auto remaining_ms = [deadline] {
    return deadline == 0 ? std::numeric_limits<std::int64_t>::max() : deadline - unix_now_ms();
  };
  auto past_deadline = [&] {
    return fail(errc::timeout, fmt::format("generation {} passed its deadline (POST {})", id, s.url_text));
  };
  auto cancelled = [&] { return fail(errc::cancelled, fmt::format("generation {} cancelled", id)); };
  if (control.cancelled()) return cancelled();
  if (remaining_ms() <= 0) return past_deadline();

  httplib::Client cli(s.url.origin());
  const auto connect_ms = std::max<std::int64_t>(1, std::min(s.connect_timeout_ms, remaining_ms()));
  const auto read_ms = std::max<std::int64_t>(1, std::min(s.read_timeout_ms, remaining_ms()));
  cli.set_connection_timeout(std::chrono::milliseconds(connect_ms));
  cli.set_read_timeout(std::chrono::milliseconds(read_ms));
  cli.set_write_timeout(std::chrono::milliseconds(read_ms));
  cli.set_keep_alive(false);

  httplib::Request req;
  req.method = "POST";
  req.path = s.path;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.set_header("Accept-Encoding", "identity");  // compression would hold back the stream
  if (!s.bearer.empty()) req.set_header("Authorization", "Bearer " + s.bearer);
  req.body = chat_request_body(request, s.model, true, s.llama_extras);

  response_head head;
  std::string body;  // an error body, or a whole JSON reply from a server that did not stream
  sse_parser parser;
  chat_stream_decoder decoder;
  std::optional<error> stopped;  // why the receiver ended the exchange early
  auto last_activity = steady::now();
  auto on_event = [&](const sse_event& e) {
    if (auto ok = decoder.event(e.type, e.data, on_piece); !ok) {
      stopped = ok.error();
      return false;
    }
    return true;
  };

  req.response_handler = [&](const httplib::Response& r) {
    last_activity = steady::now();
    head.status = r.status;
    head.retry_after = r.get_header_value("Retry-After");
    head.event_stream = r.get_header_value("Content-Type").find("text/event-stream") != std::string::npos;
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    last_activity = steady::now();
    if (control.cancelled()) return false;
    if (remaining_ms() <= 0) {
      stopped = past_deadline().value();
      return false;
    }
    const bool ok_status = head.status >= 200 && head.status < 300;
    if (!ok_status || !head.event_stream) {
      const std::size_t limit = ok_status ? max_json_body_bytes : max_error_body_bytes;
      body.append(data, std::min(n, limit - body.size()));
      return body.size() < limit || !ok_status;  // an error body is kept cut; a reply may not be
    }
    if (auto bad = parser.feed({data, n}, on_event))
      stopped = error{errc::protocol, fmt::format("POST {}: {}", s.url_text, *bad)};
    // After [DONE] nothing more is needed: close rather than wait for the server to.
    return !stopped && !decoder.done();
  };

  control.attach([&cli] { cli.stop(); });
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool sent = cli.send(req, res, err);
  control.detach();

  if (control.cancelled()) return cancelled();
  if (stopped) return tl::make_unexpected(*stopped);
  const bool finished_early = err == httplib::Error::Canceled && decoder.done();
  if (!sent && !finished_early) {
    switch (err) {
      case httplib::Error::Connection:
        return fail(errc::unavailable,
                    fmt::format("cannot connect to {} (connection refused or host unreachable)", s.url_text));
      case httplib::Error::ConnectionTimeout:
        if (remaining_ms() <= 0) return past_deadline();
        return fail(errc::unavailable, fmt::format("cannot connect to {} within {} ms", s.url_text, connect_ms));
      case httplib::Error::Read:
        if (remaining_ms() <= 0) return past_deadline();
        if (ms_since(last_activity) + 10 >= read_ms)
          return fail(errc::timeout,
                      fmt::format("generation {}: {} sent nothing for {} ms", id, s.url_text, read_ms));
        return fail(errc::unavailable,
                    fmt::format("generation {}: the connection to {} was lost after {} stream events", id,
                                s.url_text, decoder.events()));
      default:
        return fail(errc::unavailable, fmt::format("POST {}: {}", s.url_text, httplib::to_string(err)));
    }
  }
  if (head.status < 200 || head.status >= 300) return tl::make_unexpected(status_error(s, head, body, s.retry_after_ms));

  if (!head.event_stream) {  // the server answered with one JSON object
    auto r = parse_chat_completion(body, on_piece);
    if (!r) return fail(r.error().code, fmt::format("POST {}: {}", s.url_text, r.error().message));
    r->request_id = id;
    if (r->finish_reason.empty()) r->finish_reason = "stop";
    return r;
  }
  if (!finished_early) {
    if (auto bad = parser.finish(on_event)) return fail(errc::protocol, fmt::format("POST {}: {}", s.url_text, *bad));
    if (stopped) return tl::make_unexpected(*stopped);
  }
  if (!decoder.done() && !decoder.finished())
    return fail(errc::protocol, fmt::format("POST {}: the stream ended after {} events without data: [DONE]",
                                            s.url_text, decoder.events()));
  auto out = std::move(decoder.outcome());
  out.request_id = id;
  if (out.finish_reason.empty()) out.finish_reason = "stop";
  return out;
}

} // namespace troupe::runtime::detail
