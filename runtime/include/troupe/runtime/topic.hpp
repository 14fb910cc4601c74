// Topic names and subscription patterns.
//
// A topic is a dot-separated list of non-empty segments ("news.sports.tennis"). A pattern is
// a topic in which a segment may be `*` (exactly one segment) and whose last segment may be
// `#` (zero or more trailing segments). So `news.*` matches "news.sports" but not "news" or
// "news.sports.tennis"; `news.#` matches "news", "news.sports" and "news.sports.tennis";
// `#` alone matches every topic.
#pragma once

#include <string_view>

#include "troupe/runtime/error.hpp"

namespace troupe::runtime {

/// Checks a topic name used for publishing (no wildcards, no empty segment).
result<void> validate_topic(std::string_view topic);

/// Checks a subscription pattern (`*` anywhere as a whole segment, `#` only last).
result<void> validate_pattern(std::string_view pattern);

/// True when `pattern` has a `*` or `#` segment.
bool is_wildcard(std::string_view pattern);

/// True when the (valid) `pattern` matches the (valid) `topic`.
bool topic_matches(std::string_view pattern, std::string_view topic);

} // namespace troupe::runtime
