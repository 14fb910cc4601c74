// One chat completion over HTTP: POST the request, stream the reply's events into pieces,
// map every failure to an errc. Runs on the calling (worker) thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "http/url.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime::detail {

/// Fixed per client: where to send and how.
struct exchange_settings {
  http_url url;
  std::string url_text;  ///< the full endpoint URL, for messages
  std::string path;      ///< the chat completions path
  std::string bearer;    ///< API key ("" = no Authorization header)
  std::string model;
  std::int64_t connect_timeout_ms = 5000;
  std::int64_t read_timeout_ms = 120000;
  bool llama_extras = true;
  std::size_t retry_after_ms = 1000;  ///< hint for a 429/503 without Retry-After
};

/// Lets another thread cancel a running exchange: cancel() sets the flag and closes the
/// connection, so that a read blocked on a silent server returns at once.
class exchange_control {
public:
  void cancel();
  [[nodiscard]] bool cancelled() const { return cancelled_.load(); }
  /// Called by the exchange while a connection is open; `stop` closes it. Runs `stop` at once
  /// when already cancelled.
  void attach(std::function<void()> stop);
  void detach();

private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::function<void()> stop_;  ///< guarded by mutex_
};

/// Runs one request to its end (pieces to `on_piece` as they arrive).
result<generation_result> run_chat_exchange(const exchange_settings& settings, const generation_request& request,
                                            const piece_callback& on_piece, exchange_control& control);

/// Now as Unix-epoch milliseconds (the clock of generation_request::deadline_ms).
std::int64_t unix_now_ms();

} // namespace troupe::runtime::detail
