// Conversation memory within a token budget.
#include <doctest/doctest.h>

#include <troupe/runtime/memory.hpp>

using namespace troupe::runtime;

TEST_CASE("approximate token count: max(words, ceil(bytes/4))") {
  CHECK(approximate_token_count("") == 0);
  CHECK(approximate_token_count("a b c d e") == 5);      // 5 words, 9 bytes -> 3
  CHECK(approximate_token_count("abcdefghijkl") == 3);   // 1 word, 12 bytes -> 3
  CHECK(approximate_token_count("  spaced   out  ") == 4); // 2 words, 16 bytes -> 4
}

TEST_CASE("memory evicts the oldest messages beyond the budget") {
  // Counter: one token per byte, plus one per message for the role.
  conversation_memory m{10, [](std::string_view s) { return s.size(); }};
  m.add({"user", "aaaa"});      // 5
  m.add({"assistant", "bbbb"}); // 10
  CHECK(m.size() == 2);
  CHECK(m.tokens() == 10);
  m.add({"user", "cc"}); // 13 -> evict first -> 8
  REQUIRE(m.size() == 2);
  CHECK(m.messages().front().content == "bbbb");
  CHECK(m.tokens() == 8);
  CHECK(m.evicted() == 1);
  m.add({"user", "a very long message over budget"});
  CHECK(m.size() == 1); // kept alone
  m.clear();
  CHECK(m.size() == 0);
  CHECK(m.tokens() == 0);
}

TEST_CASE("a zero budget keeps nothing; swapping the counter recounts") {
  conversation_memory none{0};
  none.add({"user", "x"});
  CHECK(none.size() == 0);
  conversation_memory m{100};
  m.add({"user", "one two three"});
  auto before = m.tokens();
  m.set_counter([](std::string_view) { return std::size_t{7}; });
  CHECK(m.tokens() == 8);
  CHECK(before != m.tokens());
}
