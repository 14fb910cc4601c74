// From chat messages to the prompt tokens of one model.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <troupe/inference/vocab.hpp>

#include "troupe/runtime/error.hpp"
#include "troupe/runtime/memory.hpp"

namespace troupe::runtime::detail {

/// How a model's prompts are written: its `tokenizer.chat_template` (empty when it has none).
struct prompt_format {
  std::string chat_template;  ///< Jinja source or a format name; "" = plain transcript
};

/// The prompt text of `messages`. With a chat template, the format it stands for (see
/// inference::apply_chat_template), ending with the opening of an assistant turn. A model
/// without a template (or with one troupe does not recognise) gets a plain transcript
/// instead, one "role: content" line per message and a final "assistant:" line to complete:
/// base models continue such text reasonably, and nothing model-specific is assumed.
[[nodiscard]] std::string prompt_text(const prompt_format& format, std::span<const chat_message> messages);

/// The prompt tokens of `messages` (BOS added as the vocabulary says; the template's special
/// tokens parsed as such). Errors: invalid_argument when the prompt has no tokens.
[[nodiscard]] result<std::vector<std::int32_t>> prompt_tokens(const inference::tokenizer& tok,
                                                              const prompt_format& format,
                                                              std::span<const chat_message> messages);

} // namespace troupe::runtime::detail
