// Topic names, patterns and matching (pure functions).
#include <doctest/doctest.h>

#include <troupe/runtime/topic.hpp>

using namespace troupe::runtime;

TEST_CASE("exact patterns match only the same topic") {
  CHECK(topic_matches("news", "news"));
  CHECK(topic_matches("news.sports", "news.sports"));
  CHECK_FALSE(topic_matches("news", "news.sports"));
  CHECK_FALSE(topic_matches("news.sports", "news"));
  CHECK_FALSE(topic_matches("news.sport", "news.sports"));
}

TEST_CASE("'*' matches exactly one segment") {
  CHECK(topic_matches("news.*", "news.sports"));
  CHECK(topic_matches("*.sports", "news.sports"));
  CHECK(topic_matches("a.*.c", "a.b.c"));
  CHECK_FALSE(topic_matches("news.*", "news"));
  CHECK_FALSE(topic_matches("news.*", "news.sports.tennis"));
  CHECK_FALSE(topic_matches("a.*.c", "a.b.d"));
}

TEST_CASE("'#' matches zero or more trailing segments") {
  CHECK(topic_matches("news.#", "news"));
  CHECK(topic_matches("news.#", "news.sports"));
  CHECK(topic_matches("news.#", "news.sports.tennis"));
  CHECK(topic_matches("#", "anything.at.all"));
  CHECK(topic_matches("*.x.#", "a.x"));
  CHECK_FALSE(topic_matches("news.#", "weather.today"));
  CHECK_FALSE(topic_matches("news.#", "newsroom"));
}

TEST_CASE("validation names what is wrong") {
  CHECK(validate_topic("a.b.c"));
  CHECK_FALSE(validate_topic(""));
  CHECK_FALSE(validate_topic("a..b"));
  CHECK_FALSE(validate_topic("a.b."));
  CHECK_FALSE(validate_topic("a.*"));
  CHECK(validate_pattern("a.*.#"));
  CHECK_FALSE(validate_pattern("a.#.b"));
  CHECK_FALSE(validate_pattern("a.b*"));
  auto e = validate_pattern("x.#.y");
  REQUIRE(!e);
  CHECK(e.error().message.find("last segment") != std::string::npos);
  CHECK(is_wildcard("a.*"));
  CHECK(is_wildcard("#"));
  CHECK_FALSE(is_wildcard("a.b"));
}
