// An OpenAI-compatible HTTP endpoint in front of any inference_client (troupe's engine for
// `troupe serve`): POST /v1/chat/completions (streamed as server-sent events or one JSON
// object), GET /v1/models, GET /health.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime {

/// Where to listen and how to answer.
struct serve_options {
  std::string host = "127.0.0.1";   ///< address to bind
  int port = 8080;                  ///< TCP port; 0 picks a free one (see openai_server::port)
  std::string model_name = "troupe"; ///< the model id /v1/models lists and replies carry
  /// Connections served at once (one thread each; a streaming reply holds its connection).
  /// Further connections wait in a bounded queue of the same size, then in the kernel's
  /// listen backlog.
  std::size_t max_connections = 16;
  std::size_t retry_after_ms = 1000;  ///< Retry-After sent with 503 when the engine is overloaded
  sampling_params defaults;           ///< sampling for fields a request leaves out
};

/// A running server. Replies map the client's errors: errc::overloaded -> 503 with
/// Retry-After, invalid_argument -> 400, not_found -> 404, timeout -> 504, others -> 500; an
/// error after streaming began is sent as a final `data: {"error": ...}` event. A client that
/// disconnects has its request cancelled.
class openai_server {
public:
  virtual ~openai_server() = default;
  /// The port it listens on.
  [[nodiscard]] virtual int port() const = 0;
  /// Stops accepting, cancels the requests in flight and waits for their connections to
  /// end. Idempotent; the destructor calls it.
  virtual void stop() = 0;
};

/// Binds `options.host:options.port` and serves `client` from background threads.
/// Errors: errc::unavailable when the address cannot be bound (naming it),
/// errc::invalid_argument for zero max_connections.
[[nodiscard]] result<std::unique_ptr<openai_server>> start_openai_server(std::shared_ptr<inference_client> client,
                                                                         serve_options options);

} // namespace troupe::runtime
