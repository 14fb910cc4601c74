#include "inference/prompt.hpp"

#include <fmt/format.h>
#include <troupe/inference/chat_template.hpp>

namespace troupe::runtime::detail {

namespace {

std::string plain_transcript(std::span<const chat_message> messages) {
  std::string out;
  for (const auto& m : messages) out += fmt::format("{}: {}\n", m.role, m.content);
  out += "assistant:";
  return out;
}

} // namespace

std::string prompt_text(const prompt_format& format, std::span<const chat_message> messages) {
  if (format.chat_template.empty()) return plain_transcript(messages);
  // Consecutive messages of one role (several agents speaking in turn to this one) become
  // one turn: formats such as llama2 require alternating roles.
  std::vector<inference::chat_message> turns;
  for (const auto& m : messages) {
    if (!turns.empty() && turns.back().role == m.role) turns.back().content += "\n" + m.content;
    else turns.push_back({m.role, m.content});
  }
  auto text = inference::apply_chat_template(format.chat_template, turns, true);
  if (!text) return plain_transcript(messages);  // unknown format or roles it cannot express
  return std::move(*text);
}

result<std::vector<std::int32_t>> prompt_tokens(const inference::tokenizer& tok, const prompt_format& format,
                                                std::span<const chat_message> messages) {
  const bool templated = !format.chat_template.empty();
  auto ids = tok.encode(prompt_text(format, messages), true, templated);
  if (ids.empty()) return fail(errc::invalid_argument, "the prompt has no tokens");
  return ids;
}

} // namespace troupe::runtime::detail
