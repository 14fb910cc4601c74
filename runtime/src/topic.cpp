#include "troupe/runtime/topic.hpp"

#include <fmt/format.h>

namespace troupe::runtime {
namespace {

/// Splits off the next segment of `rest` (up to '.').
std::string_view next_segment(std::string_view& rest) {
  auto dot = rest.find('.');
  std::string_view seg = rest.substr(0, dot);
  rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  return seg;
}

result<void> check(std::string_view text, bool allow_wildcards, const char* what) {
  if (text.empty())
    return fail(errc::invalid_argument, fmt::format("empty {}", what));
  std::string_view rest = text;
  std::size_t index = 0;
  bool more = true;
  while (more) {
    more = rest.find('.') != std::string_view::npos;
    auto seg = next_segment(rest);
    if (seg.empty())
      return fail(errc::invalid_argument,
                  fmt::format("{} '{}': empty segment {}", what, text, index));
    bool star = seg == "*", hash = seg == "#";
    if (!allow_wildcards && (seg.find('*') != seg.npos || seg.find('#') != seg.npos))
      return fail(errc::invalid_argument,
                  fmt::format("{} '{}': wildcards are only allowed in subscriptions", what, text));
    if (allow_wildcards && !star && !hash &&
        (seg.find('*') != seg.npos || seg.find('#') != seg.npos))
      return fail(errc::invalid_argument,
                  fmt::format("{} '{}': '*' and '#' must be whole segments", what, text));
    if (hash && more)
      return fail(errc::invalid_argument, fmt::format("{} '{}': '#' must be the last segment", what, text));
    ++index;
  }
  return {};
}

} // namespace

result<void> validate_topic(std::string_view topic) { return check(topic, false, "topic"); }

result<void> validate_pattern(std::string_view pattern) { return check(pattern, true, "pattern"); }

bool is_wildcard(std::string_view pattern) {
  std::string_view rest = pattern;
  while (!rest.empty()) {
    auto seg = next_segment(rest);
    if (seg == "*" || seg == "#")
      return true;
  }
  return false;
}

bool topic_matches(std::string_view pattern, std::string_view topic) {
  // Positions past the end mean "no segments left".
  std::size_t pi = 0, ti = 0;
  auto take = [](std::string_view text, std::size_t& pos) {
    auto dot = text.find('.', pos);
    if (dot == std::string_view::npos)
      dot = text.size();
    auto seg = text.substr(pos, dot - pos);
    pos = dot + 1;
    return seg;
  };
  while (true) {
    if (pi > pattern.size())
      return ti > topic.size();
    auto ps = take(pattern, pi);
    if (ps == "#")
      return true; // zero or more trailing segments
    if (ti > topic.size())
      return false;
    auto ts = take(topic, ti);
    if (ps != "*" && ps != ts)
      return false;
  }
}

} // namespace troupe::runtime
