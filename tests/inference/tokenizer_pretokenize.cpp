// White-box tests of the BPE pre-tokenizers (a private header of the inference library):
// each expected split is worked out by hand from the style's regular expression.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../../inference/src/tokenizer/pretokenize.hpp"

using troupe::inference::detail::pre_split;
using troupe::inference::detail::pre_style;
using troupe::inference::detail::pre_style_from_name;
using words = std::vector<std::string>;

TEST_CASE("gpt2: contractions, optional leading space, white space before a word") {
  CHECK(pre_split("Hello world's 123  end\n", pre_style::gpt2) ==
        words{"Hello", " world", "'s", " 123", " ", " end", "\n"});
  CHECK(pre_split("naïve café 日本", pre_style::gpt2) == words{"naïve", " café", " 日本"});
  CHECK(pre_split("a \u3000b", pre_style::gpt2) == words{"a", " ", "\u3000", "b"});
  CHECK(pre_split("I'LL", pre_style::gpt2) == words{"I", "'", "LL"});  // case-sensitive
  CHECK(pre_split("a\xff" "b", pre_style::gpt2) == words{"a", "\xEF\xBF\xBD", "b"});
  CHECK(pre_split("", pre_style::gpt2).empty());
}

TEST_CASE("llama3: any-case contractions, one non-letter before letters, digits by three") {
  CHECK(pre_split("Hello world's 12345 ok!!\n\nNext", pre_style::llama3) ==
        words{"Hello", " world", "'s", " ", "123", "45", " ok", "!!\n\n", "Next"});
  CHECK(pre_split("I'LL", pre_style::llama3) == words{"I", "'LL"});
  CHECK(pre_split("a \u3000b", pre_style::llama3) == words{"a", " ", "\u3000b"});
  CHECK(pre_split("x  \n\n y", pre_style::llama3) == words{"x", "  \n\n", " y"});
}

TEST_CASE("qwen2: like llama3 with single digits") {
  CHECK(pre_split("Hello world's 12345 ok!!\n\nNext", pre_style::qwen2) ==
        words{"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " ok", "!!\n\n", "Next"});
}

TEST_CASE("smollm: every digit alone, then gpt2") {
  CHECK(pre_split("abc123 x", pre_style::smollm) == words{"abc", "1", "2", "3", " x"});
}

TEST_CASE("default: punctuation runs, gpt2, number runs, then groups of three digits") {
  CHECK(pre_split("Hi, 12345!", pre_style::fallback) ==
        words{"Hi", ",", " ", "123", "45", "!"});
  CHECK(pre_split("a+=b", pre_style::fallback) == words{"a", "+=", "b"});
}

TEST_CASE("pre-tokenizer names") {
  CHECK(pre_style_from_name("llama-bpe") == pre_style::llama3);
  CHECK(pre_style_from_name("qwen2") == pre_style::qwen2);
  CHECK(pre_style_from_name("gpt-2") == pre_style::gpt2);
  CHECK(pre_style_from_name("smollm") == pre_style::smollm);
  CHECK(pre_style_from_name("default") == pre_style::fallback);
  CHECK(pre_style_from_name("") == pre_style::fallback);
  CHECK_FALSE(pre_style_from_name("deepseek-llm").has_value());
}
