// The server-sent events parser and the chat chunk decoder (private to the runtime's HTTP
// client): chunk boundaries anywhere, every line ending, comments, multi-line data, bounds;
// and a mutation fuzz of whole streams.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include <fmt/format.h>

#include "../../runtime/src/http/chat_json.hpp"
#include "../../runtime/src/http/sse_parser.hpp"

using namespace troupe::runtime;
using namespace troupe::runtime::detail;

namespace {

using events = std::vector<std::pair<std::string, std::string>>;

/// Parses `stream` fed in pieces cut at `cuts` (offsets, ascending).
events parse(std::string_view stream, const std::vector<std::size_t>& cuts = {}) {
  events out;
  sse_parser p;
  auto on = [&](const sse_event& e) {
    out.emplace_back(e.type, e.data);
    return true;
  };
  std::size_t from = 0;
  for (auto c : cuts) {
    REQUIRE_FALSE(p.feed(stream.substr(from, c - from), on));
    from = c;
  }
  REQUIRE_FALSE(p.feed(stream.substr(from), on));
  REQUIRE_FALSE(p.finish(on));
  return out;
}

const std::string reference =
    "\xEF\xBB\xBF: opening comment\r\n"
    "data: one\r\n\r\n"
    "data:two\n\n"
    "data: three-a\rdata: three-b\r\r"
    "event: custom\nid: 7\nretry: 10\nunknown: x\ndata: four\n\n"
    "\n\n"                        // blank lines without data dispatch nothing
    "data\n\n"                    // a field with no colon: empty data
    "error: {\"message\":\"e\"}\n\n"
    "data: last-no-blank-line";

const events expected = {{"", "one"},    {"", "two"},   {"", "three-a\nthree-b"}, {"custom", "four"},
                         {"", ""},       {"error", "{\"message\":\"e\"}"},         {"", "last-no-blank-line"}};

} // namespace

TEST_CASE("sse parser: the reference stream, whole") { CHECK(parse(reference) == expected); }

TEST_CASE("sse parser: the same events whatever the chunk boundaries") {
  for (std::size_t a = 0; a <= reference.size(); ++a) {
    INFO(a);
    REQUIRE(parse(reference, {a}) == expected);
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < reference.size(); ++i) every.push_back(i);
  CHECK(parse(reference, every) == expected);
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < reference.size(); ++i)
      if (rng() % 5 == 0) cuts.push_back(i);
    REQUIRE(parse(reference, cuts) == expected);
  }
}

TEST_CASE("sse parser: a CR at a chunk's end and an LF opening the next are one line end") {
  CHECK(parse("data: a\r\n\r\ndata: b\r\n\r\n", {8, 10}) == events{{"", "a"}, {"", "b"}});
}

TEST_CASE("sse parser: lines and events are bounded") {
  sse_parser p(16);
  auto on = [](const sse_event&) { return true; };
  auto err = p.feed("data: 0123456789abcdef\n", on);
  REQUIRE(err);
  CHECK(err->find("longer than 16 bytes") != std::string::npos);
  CHECK(p.feed("data: x\n\n", on) == err);  // stays failed
  sse_parser q(16);
  CHECK_FALSE(q.feed("data: 01234567\n", on));
  auto many = q.feed("data: 01234567\n", on);  // two lines of one event: 20 bytes of data
  REQUIRE(many);
  CHECK(many->find("event longer than 16 bytes") != std::string::npos);
}

TEST_CASE("chat decoder: deltas, finish reason, usage-only chunk, [DONE]") {
  chat_stream_decoder d;
  std::string pieces;
  auto on_piece = [&](std::string_view p) { pieces += p; };
  REQUIRE(d.event("", R"({"choices":[{"delta":{"role":"assistant"}}]})", on_piece));
  REQUIRE(d.event("", R"({"choices":[{"delta":{"content":"Hi"},"finish_reason":null}]})", on_piece));
  REQUIRE(d.event("", R"({"choices":[{"delta":{"content":" there"}}]})", on_piece));
  REQUIRE(d.event("", R"({"choices":[{"delta":{},"finish_reason":"stop"}]})", on_piece));
  REQUIRE(d.event("", R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}})", on_piece));
  CHECK_FALSE(d.done());
  REQUIRE(d.event("", "[DONE]", on_piece));
  CHECK(d.done());
  CHECK(pieces == "Hi there");
  CHECK(d.outcome().text == "Hi there");
  CHECK(d.outcome().finish_reason == "stop");
  CHECK(d.outcome().prompt_tokens == 4);
  CHECK(d.outcome().completion_tokens == 2);
}

TEST_CASE("chat decoder: error chunks carry the server's message and kind") {
  chat_stream_decoder d;
  auto e = d.event("", R"({"error":{"message":"too busy","code":503}})", nullptr);
  REQUIRE_FALSE(e);
  CHECK(e.error().code == errc::overloaded);
  CHECK(e.error().message == "too busy");
  auto f = d.event("error", R"({"message":"bad things","type":"server_error"})", nullptr);
  REQUIRE_FALSE(f);
  CHECK(f.error().code == errc::unavailable);
  CHECK(f.error().message == "bad things");
}

TEST_CASE("sse parser and chat decoder: mutation fuzz of whole streams never throws or crashes") {
  std::string valid;
  for (const char* p : {"Hel", "lo", " w\xC3\xB6rld", "\xF0\x9F\x98\x80"})
    valid += fmt::format("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n", p);
  valid += "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":4}}\n\n";
  valid += "data: [DONE]\n\n";
  std::mt19937 rng(12345);
  std::size_t decoded = 0, protocol = 0, server = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const auto at = rng() % s.size();
      switch (rng() % 5) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.erase(at, 1 + rng() % 10); break;
        case 2: s.insert(at, std::string(1 + rng() % 4, "\n\r:{}\"[],0"[rng() % 10])); break;
        case 3: s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 40)); break;
        default: s.resize(at); break;
      }
    }
    sse_parser p(256);
    chat_stream_decoder d;
    std::optional<error> failed;
    auto on = [&](const sse_event& e) {
      auto r = d.event(e.type, e.data, [](std::string_view) {});
      if (!r) failed = r.error();
      return !failed && !d.done();
    };
    std::optional<std::string> bad;
    for (std::size_t from = 0; from < s.size() && !bad && !failed && !d.done();) {
      const std::size_t n = 1 + rng() % 32;
      bad = p.feed(std::string_view(s).substr(from, n), on);
      from += n;
    }
    if (!bad && !failed && !d.done()) bad = p.finish(on);
    if (bad || (failed && failed->code == errc::protocol)) ++protocol;
    else if (failed) ++server;
    else ++decoded;
  }
  CHECK(decoded + protocol + server == 5000);
  CHECK(protocol > 0);
  MESSAGE(fmt::format("5000 mutated streams: {} decoded, {} protocol errors, {} server errors", decoded,
                      protocol, server));
}
