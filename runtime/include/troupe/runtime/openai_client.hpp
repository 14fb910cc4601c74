// An inference_client that sends each generation to an OpenAI-compatible HTTP endpoint a user
// already runs (llama.cpp's server, vLLM, `troupe serve`, OpenAI itself) and streams the reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime {

/// Where the endpoint is and how to talk to it.
struct openai_options {
  /// "http://host:port" or "https://host:port", optionally with a path prefix. The client
  /// POSTs to PREFIX/v1/chat/completions, or PREFIX/chat/completions when the prefix already
  /// ends in "/v1" (as OpenAI SDK base URLs do).
  std::string base_url;
  std::string model;        ///< the "model" field sent ("" = omitted; llama.cpp ignores it)
  std::string api_key_env;  ///< name of an environment variable holding the bearer key ("" = none)
  std::size_t max_concurrent = 4;    ///< connections open at once (one worker thread each)
  std::size_t queue_capacity = 64;   ///< requests waiting for a connection; more get errc::overloaded
  std::int64_t connect_timeout_ms = 5000;  ///< to establish a connection
  std::int64_t read_timeout_ms = 120000;   ///< longest silence from the server (errc::timeout)
  std::size_t retry_after_ms = 1000;       ///< retry hint when the own queue is full
  /// Send top_k, min_p and repeat_penalty as llama.cpp's server accepts them. Turn off for
  /// endpoints that reject unknown fields (api.openai.com).
  bool llama_extras = true;
};

/// Makes the client. `generate` never blocks: it queues the request (or fails it with
/// errc::overloaded, "retry in about N ms", when the queue is full) and returns; pieces and the
/// outcome arrive from a worker thread. Outcomes: the streamed text with finish_reason and the
/// token usage the server reported; errc::unavailable when the endpoint cannot be reached
/// (naming the URL), answers 5xx, or drops the connection mid-stream; errc::overloaded for HTTP
/// 429/503 (with the server's Retry-After); errc::invalid_argument / errc::not_found for other
/// 4xx (with the server's message); errc::protocol for a malformed reply; errc::timeout past the
/// request's deadline or after read_timeout_ms of silence; errc::cancelled after cancel() (the
/// connection is closed at once); errc::stopped when the client is destroyed first.
/// Errors here: errc::invalid_argument for a malformed base_url, zero max_concurrent, or an
/// api_key_env variable that is not set.
[[nodiscard]] result<std::shared_ptr<inference_client>> make_openai_client(openai_options options);

} // namespace troupe::runtime
