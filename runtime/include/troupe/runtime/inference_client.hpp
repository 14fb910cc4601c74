// The inference boundary: how an agent asks for text. The real engine (inference pool) plugs in
// behind this interface; the runtime itself only holds a pointer to one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/memory.hpp"

namespace troupe::runtime {

/// Sampling parameters of one generation.
struct sampling_params {
  float temperature = 0.8f;           ///< 0 means greedy
  int top_k = 40;                     ///< 0 disables
  float top_p = 0.95f;                ///< 1 disables
  float min_p = 0.05f;                ///< 0 disables
  float repeat_penalty = 1.0f;        ///< penalise recently generated tokens; 1 disables
  std::optional<std::uint64_t> seed;  ///< fixed seed for reproducible output
  int max_tokens = 256;               ///< most tokens to generate
  std::vector<std::string> stop;      ///< generation ends before any of these strings
};

/// One request for text.
struct generation_request {
  std::string request_id;             ///< unique; used to cancel
  std::string agent;                  ///< the asking agent's name
  std::string profile;                ///< inference profile name ("" = default)
  std::vector<chat_message> messages; ///< the prompt as chat turns
  sampling_params sampling;           ///< how to sample
  std::int64_t deadline_ms = 0;       ///< Unix-epoch ms after which to give up (0 = none)
};

/// The final outcome of a successful generation.
struct generation_result {
  std::string request_id;          ///< the request's id
  std::string text;                ///< the whole generated text
  std::size_t prompt_tokens = 0;   ///< tokens in the prompt
  std::size_t completion_tokens = 0; ///< tokens generated
  std::string finish_reason;       ///< "stop", "length", ...
};

/// Called with each streamed piece of text, in order (may be empty to ignore pieces).
using piece_callback = std::function<void(std::string_view piece)>;
/// Called exactly once with the final result or the error.
using done_callback = std::function<void(result<generation_result>)>;

/// An asynchronous text generator. `generate` must not block for the generation: it returns
/// at once and calls `on_piece` zero or more times and then `on_done` exactly once, from any
/// thread. `cancel` ends a running request early (`on_done` then gets `errc::cancelled`).
/// Implementations are thread-safe.
class inference_client {
public:
  virtual ~inference_client() = default;
  /// Starts a generation.
  virtual void generate(generation_request request, piece_callback on_piece, done_callback on_done) = 0;
  /// Cancels a request by id; unknown or finished ids are ignored.
  virtual void cancel(std::string_view request_id) = 0;
};

} // namespace troupe::runtime
