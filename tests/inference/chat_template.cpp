#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "support/temp_dir.hpp"
#include <troupe/inference/chat_template.hpp>

using namespace troupe::inference;

namespace {

const std::vector<chat_message> k_chat = {
    {"system", "You are terse."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "Sum 2+2?"},
};

std::string apply(std::string_view tmpl, const std::vector<chat_message>& msgs, bool gen) {
  auto r = apply_chat_template(tmpl, msgs, gen);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return *r;
}

} // namespace

TEST_CASE("chatml") {
  CHECK(apply("chatml", k_chat, true) ==
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\nSum 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n");
  CHECK(apply("chatml", {{"user", "x"}}, false) == "<|im_start|>user\nx<|im_end|>\n");
}

TEST_CASE("llama3 trims contents and leaves BOS to the tokenizer") {
  CHECK(apply("llama3", {{"system", "You are terse."}, {"user", "  Hi\n"}}, true) ==
        "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST_CASE("llama2 puts the system prompt in <<SYS>> inside the first [INST]") {
  CHECK(apply("llama2", k_chat, true) ==
        "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s>"
        "<s>[INST] Sum 2+2? [/INST]");
  CHECK(apply("llama2", {{"user", " Hi "}}, false) == "[INST] Hi [/INST]");
  auto bad = apply_chat_template("llama2", std::vector<chat_message>{{"user", "a"}, {"user", "b"}},
                                 true);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == errc::invalid_argument);
}

TEST_CASE("zephyr and phi3") {
  CHECK(apply("zephyr", {{"system", "S"}, {"user", "Hi"}}, true) ==
        "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
  CHECK(apply("phi3", {{"user", "Hi"}, {"assistant", "Yo"}}, false) ==
        "<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n");
  // StableLM Zephyr's template spells out <|endoftext|>.
  const std::string stablelm =
      "{% for m in messages %}{% if m['role'] == 'user' %}"
      "{{'<|user|>\\n' + m['content'] + '<|endoftext|>\\n'}}{% endif %}{% endfor %}";
  CHECK(apply(stablelm, {{"user", "Hi"}}, true) == "<|user|>\nHi<|endoftext|>\n<|assistant|>\n");
}

TEST_CASE("formats are detected from Jinja template text") {
  CHECK(detect_chat_format("{% for m in messages %}<|im_start|>{{ m.role }}...") ==
        chat_format::chatml);
  CHECK(detect_chat_format("{{ '<|start_header_id|>' + message['role'] }}") ==
        chat_format::llama3);
  CHECK(detect_chat_format("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}") ==
        chat_format::llama2);
  CHECK(detect_chat_format("{{ '<|user|>\\n' + message['content'] + eos_token }}") ==
        chat_format::zephyr);
  CHECK(detect_chat_format("{{'<|user|>' + m + '<|end|>'}}") == chat_format::phi3);
  CHECK_FALSE(detect_chat_format("vicuna").has_value());
}

TEST_CASE("unknown templates are refused by name") {
  auto r = apply_chat_template("no-such-format", k_chat, true);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::unsupported);
  CHECK(r.error().message.find("no-such-format") != std::string::npos);
}

TEST_CASE("real model templates from llama.cpp's collection are detected") {
  const auto dir = troupe::test::source_dir() / ".deps" / "llama" / "src" / "models" / "templates";
  const std::pair<const char*, chat_format> cases[] = {
      {"Qwen-Qwen2.5-7B-Instruct.jinja", chat_format::chatml},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", chat_format::llama3},
      {"microsoft-Phi-3.5-mini-instruct.jinja", chat_format::phi3},
  };
  for (const auto& [file, expected] : cases) {
    const auto path = dir / file;
    if (!std::filesystem::exists(path)) {
      MESSAGE("SKIPPED: ", path.string(), " not found (.deps/llama absent)");
      continue;
    }
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK_MESSAGE(detect_chat_format(ss.str()) == expected, file);
  }
}
