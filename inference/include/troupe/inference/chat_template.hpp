// Chat prompt formats: turn a conversation into the prompt text a chat model was trained on.
// troupe does not run Jinja; it recognises the common formats from the model's
// `tokenizer.chat_template` text (or by name) and writes them directly.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <troupe/inference/error.hpp>

namespace troupe::inference {

/// One turn of a conversation; role is "system", "user" or "assistant" (chatml, llama3 and
/// zephyr accept any role name).
struct chat_message {
  std::string role;
  std::string content;
};

/// The formats troupe writes.
enum class chat_format {
  chatml,  ///< <|im_start|>ROLE\nCONTENT<|im_end|>\n (Qwen, SmolLM, Hermes, ...)
  llama2,  ///< <s>[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ANSWER </s>...
  llama3,  ///< <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>
  zephyr,  ///< <|ROLE|>\nCONTENT</s>\n (or <|endoftext|> where the template says so)
  phi3,    ///< <|ROLE|>\nCONTENT<|end|>\n
};

/// The format a name ("chatml", "llama2", "llama3", "zephyr", "phi3") or a Jinja template
/// text stands for, by the markers it contains (<|im_start|> -> chatml, <|start_header_id|>
/// -> llama3, [INST] -> llama2, <|user|> with <|end|> -> phi3, <|user|> -> zephyr). nullopt
/// when none matches. Mistral's [INST] templates are treated as llama2, which is close but
/// not exact (Mistral has no <<SYS>> block).
[[nodiscard]] std::optional<chat_format> detect_chat_format(std::string_view template_source_or_name);

/// The prompt for `messages` in the format `template_source_or_name` stands for; with
/// `add_generation_prompt`, ends with the opening of an assistant turn. The text leaves out
/// the leading BOS token, which tokenizer::encode(text, add_special = true, ...) adds; other
/// special tokens are written as text, so encode it with parse_special = true.
/// Errors: unsupported (unknown template, named in the message), invalid_argument (llama2:
/// roles that do not alternate user/assistant after an optional first system message).
[[nodiscard]] result<std::string> apply_chat_template(std::string_view template_source_or_name,
                                                      std::span<const chat_message> messages,
                                                      bool add_generation_prompt);

} // namespace troupe::inference
