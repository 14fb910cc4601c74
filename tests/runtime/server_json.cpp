// The server's chat JSON (private to the runtime): request fields and their defaults, and
// where a piece may be cut without splitting a UTF-8 character.
#include <doctest/doctest.h>

#include "../../runtime/src/http/server_json.hpp"

using namespace troupe::runtime;
using namespace troupe::runtime::detail;

TEST_CASE("server json: fields a request leaves out take the defaults; seed -1 means none") {
  sampling_params d;
  d.temperature = 0.3f;
  d.max_tokens = 99;
  auto c = parse_chat_call(R"({"messages":[{"role":"user","content":"x"}],"seed":-1,"stop":"END"})", d);
  REQUIRE(c);
  CHECK_FALSE(c->stream);
  CHECK(c->request.sampling.temperature == doctest::Approx(0.3));
  CHECK(c->request.sampling.max_tokens == 99);
  CHECK_FALSE(c->request.sampling.seed);
  CHECK(c->request.sampling.stop == std::vector<std::string>{"END"});
  auto s = parse_chat_call(
      R"({"messages":[{"role":"user","content":null}],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":5})",
      d);
  REQUIRE(s);
  CHECK(s->stream);
  CHECK(s->include_usage);
  CHECK(s->request.messages[0].content.empty());
  CHECK(s->request.sampling.max_tokens == 5);
  auto bad = parse_chat_call(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", d);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("max_tokens") != std::string::npos);
}

TEST_CASE("server json: a piece is cut before an unfinished UTF-8 character only") {
  CHECK(utf8_complete_prefix("") == 0);
  CHECK(utf8_complete_prefix("abc") == 3);
  CHECK(utf8_complete_prefix("a\xC3") == 1);              // first byte of a 2-byte character
  CHECK(utf8_complete_prefix("a\xC3\xB6") == 3);          // complete
  CHECK(utf8_complete_prefix("a\xE2\x82") == 1);          // 2 of 3 bytes
  CHECK(utf8_complete_prefix("a\xE2\x82\xAC") == 4);
  CHECK(utf8_complete_prefix("\xF0\x9F\x98") == 0);       // 3 of 4 bytes
  CHECK(utf8_complete_prefix("\xF0\x9F\x98\x80") == 4);
  CHECK(utf8_complete_prefix("a\x80") == 2);              // a stray continuation byte is sent
  CHECK(utf8_complete_prefix("a\xFF") == 2);              // never valid: sent (and replaced)
}
