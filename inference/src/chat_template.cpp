// The chat formats, written from their published templates (ChatML; Meta's Llama 2 and
// Llama 3 chat templates; HuggingFaceH4's Zephyr template;
// Microsoft's Phi-3 template).
#include <troupe/inference/chat_template.hpp>

#include <fmt/format.h>

namespace troupe::inference {
namespace {

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

/// Jinja's `trim` / Python's str.strip() for ASCII white space.
std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\n\r\f\v";
  const std::size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) {
    return {};
  }
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string chatml(std::span<const chat_message> msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs) {
    out += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content);
  }
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

std::string llama3(std::span<const chat_message> msgs, bool gen) {
  std::string out;
  for (const auto& m : msgs) {
    out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role,
                       trim(m.content));
  }
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string zephyr(std::span<const chat_message> msgs, bool gen, std::string_view eos) {
  std::string out;
  for (const auto& m : msgs) {
    out += fmt::format("<|{}|>\n{}{}\n", m.role, m.content, eos);
  }
  if (gen) out += "<|assistant|>\n";
  return out;
}

// Llama 2: the system prompt goes inside the first [INST] block; every user turn opens a
// new <s>[INST] block; an answer is followed by " </s>". The template has no generation
// prompt: after " [/INST]" the model answers.
result<std::string> llama2(std::span<const chat_message> msgs) {
  std::string system;
  bool has_system = false;
  if (!msgs.empty() && msgs.front().role == "system") {
    system = msgs.front().content;
    has_system = true;
    msgs = msgs.subspan(1);
  }
  std::string out;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const chat_message& m = msgs[i];
    const std::string_view expected = i % 2 == 0 ? "user" : "assistant";
    if (m.role != expected) {
      return fail(errc::invalid_argument,
                  fmt::format("chat template llama2: message {} has role '{}', expected '{}' "
                              "(roles must alternate user/assistant after one optional system "
                              "message)",
                              i + (has_system ? 1 : 0), m.role, expected));
    }
    if (m.role == "user") {
      std::string content = m.content;
      if (i == 0 && has_system) {
        content = fmt::format("<<SYS>>\n{}\n<</SYS>>\n\n{}", system, m.content);
      }
      out += fmt::format("{}[INST] {} [/INST]", i == 0 ? "" : "<s>", trim(content));
    } else {
      out += fmt::format(" {} </s>", trim(m.content));
    }
  }
  return out;
}

} // namespace

std::optional<chat_format> detect_chat_format(std::string_view t) {
  if (t == "chatml") return chat_format::chatml;
  if (t == "llama2") return chat_format::llama2;
  if (t == "llama3") return chat_format::llama3;
  if (t == "zephyr") return chat_format::zephyr;
  if (t == "phi3") return chat_format::phi3;
  if (contains(t, "<|im_start|>")) return chat_format::chatml;
  if (contains(t, "<|start_header_id|>")) return chat_format::llama3;
  if (contains(t, "[INST]")) return chat_format::llama2;
  if (contains(t, "<|user|>")) {
    return contains(t, "<|end|>") ? chat_format::phi3 : chat_format::zephyr;
  }
  return std::nullopt;
}

result<std::string> apply_chat_template(std::string_view t, std::span<const chat_message> messages,
                                        bool add_generation_prompt) {
  const auto format = detect_chat_format(t);
  if (!format) {
    const std::string_view shown = t.substr(0, 80);
    return fail(errc::unsupported,
                fmt::format("chat template '{}{}' is not supported (known: chatml, llama2, "
                            "llama3, zephyr, phi3)",
                            shown, shown.size() < t.size() ? "..." : ""));
  }
  switch (*format) {
    case chat_format::chatml:
      return chatml(messages, add_generation_prompt);
    case chat_format::llama3:
      return llama3(messages, add_generation_prompt);
    case chat_format::zephyr: {
      // A template that spells out <|endoftext|> (StableLM Zephyr) ends turns with it; the
      // original Zephyr ends them with its EOS, </s>.
      const bool endoftext = contains(t, "<|endoftext|>") && !contains(t, "</s>");
      return zephyr(messages, add_generation_prompt, endoftext ? "<|endoftext|>" : "</s>");
    }
    case chat_format::phi3:
      return zephyr(messages, add_generation_prompt, "<|end|>");
    case chat_format::llama2:
      return llama2(messages);
  }
  return fail(errc::unsupported, "chat template: unreachable format");
}

} // namespace troupe::inference
