// The client side of OpenAI's chat completions JSON: the request body, the chunks of a
// streamed reply, a whole (non-streamed) reply and the error bodies servers send.
#pragma once

#include <string>
#include <string_view>

#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime::detail {

/// The JSON body of POST /v1/chat/completions for `request`. `model` is omitted when empty.
/// With `llama_extras`, top_k, min_p and repeat_penalty are sent as the extra fields
/// llama.cpp's server (and vLLM, for top_k/min_p) accept; OpenAI's own API rejects them.
std::string chat_request_body(const generation_request& request, const std::string& model, bool stream,
                              bool llama_extras);

/// Decodes the events of one streamed chat completion. One owner (the request's worker).
class chat_stream_decoder {
public:
  /// Handles one event (`type` "" or "error", `data` its data): content deltas go to
  /// `on_piece`, finish_reason and usage into the result. Errors: errc::protocol for data that
  /// is not the expected JSON (naming what is wrong), the server's own error for an error
  /// event or an {"error": ...} chunk.
  result<void> event(std::string_view type, std::string_view data, const piece_callback& on_piece);
  /// True once "data: [DONE]" arrived.
  [[nodiscard]] bool done() const { return done_; }
  /// True once a choice carried a finish_reason.
  [[nodiscard]] bool finished() const { return !result_.finish_reason.empty(); }
  /// The result so far (text, usage, finish_reason).
  [[nodiscard]] generation_result& outcome() { return result_; }
  /// Events handled.
  [[nodiscard]] std::size_t events() const { return events_; }

private:
  generation_result result_;
  bool done_ = false;
  std::size_t events_ = 0;
};

/// Parses a whole chat.completion object (a server that answered without streaming); its
/// content goes to `on_piece` once. Errors: errc::protocol naming what is wrong.
result<generation_result> parse_chat_completion(std::string_view body, const piece_callback& on_piece);

/// The error an {"error": ...} object carries: errc::overloaded for codes 429/503 or types
/// naming overload or rate limits, errc::unavailable otherwise; message as the server wrote it.
error server_error(std::string_view json_text);

/// The human-readable message in an error body (OpenAI's {"error": {"message": ...}},
/// {"error": "..."}, {"message": ...}, {"detail": ...}), else the body itself, shortened.
std::string error_message_of(std::string_view body);

/// `text` cut to at most `n` bytes, with "..." when cut (for quoting bad input in errors).
std::string shorten(std::string_view text, std::size_t n = 120);

} // namespace troupe::runtime::detail
