// The server side of OpenAI's chat completions JSON: reading a request, writing chunks,
// whole replies, errors and the model list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "troupe/runtime/inference_client.hpp"

namespace troupe::runtime::detail {

/// A parsed POST /v1/chat/completions body.
struct chat_call {
  generation_request request;  ///< messages and sampling (request_id left empty)
  bool stream = false;
  bool include_usage = false;  ///< stream_options.include_usage
};

/// Reads a request body; fields it leaves out take `defaults`. Understood: messages (content
/// as a string or text parts), stream, stream_options.include_usage, temperature, top_p,
/// top_k, min_p, repeat_penalty, max_tokens / max_completion_tokens, seed (-1 = none), stop
/// (a string or a list), n (must be 1). Others are ignored. Errors: errc::invalid_argument
/// naming the field.
result<chat_call> parse_chat_call(std::string_view body, const sampling_params& defaults);

/// What every chunk and reply of one completion repeats.
struct reply_head {
  std::string id;       ///< "chatcmpl-..."
  std::int64_t created = 0; ///< Unix seconds
  std::string model;
};

/// One chat.completion.chunk: a content delta (`role` adds "role":"assistant"), or the
/// final chunk with `finish_reason` (and usage when given).
std::string chunk_json(const reply_head& head, std::string_view content, bool role,
                       const std::optional<std::string>& finish_reason = std::nullopt,
                       const generation_result* usage = nullptr);
/// The usage-only chunk (empty choices) sent last when stream_options.include_usage is set.
std::string usage_chunk_json(const reply_head& head, const generation_result& r);
/// A whole chat.completion object.
std::string completion_json(const reply_head& head, const generation_result& r);
/// {"error": {"message", "type", "code"}}.
std::string error_json(std::string_view message, std::string_view type, int code);
/// The length of the longest prefix of `text` that does not end inside an unfinished UTF-8
/// sequence (the engine's pieces may split a character; the rest waits for the next piece).
std::size_t utf8_complete_prefix(std::string_view text);
/// The /v1/models list with one model.
std::string models_json(const std::string& model, std::int64_t created);

} // namespace troupe::runtime::detail
