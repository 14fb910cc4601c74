#include "options.hpp"

#include <cstdlib>

namespace troupe::agents::detail {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(sep, start);
    if (end == std::string_view::npos)
      end = text.size();
    auto piece = text.substr(start, end - start);
    while (!piece.empty() && piece.front() == ' ')
      piece.remove_prefix(1);
    while (!piece.empty() && piece.back() == ' ')
      piece.remove_suffix(1);
    if (!piece.empty())
      out.emplace_back(piece);
    start = end + 1;
  }
  return out;
}

std::string option(const runtime::agent_spec& spec, const std::string& key, std::string fallback) {
  auto i = spec.params.find(key);
  return i == spec.params.end() ? fallback : i->second;
}

namespace {
template <class T>
runtime::result<void> number(const runtime::agent_spec& spec, const char* key, T& out) {
  auto i = spec.params.find(key);
  if (i == spec.params.end())
    return {};
  const auto& text = i->second;
  if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size())
      return runtime::fail(runtime::errc::invalid_argument,
                           fmt::format("agent '{}': option {}='{}' is not a number", spec.name, key, text));
    out = static_cast<T>(v);
  } else {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || p != text.data() + text.size())
      return runtime::fail(runtime::errc::invalid_argument,
                           fmt::format("agent '{}': option {}='{}' is not an integer", spec.name, key, text));
  }
  return {};
}
} // namespace

runtime::result<runtime::sampling_params> sampling_from(const runtime::agent_spec& spec) {
  runtime::sampling_params p;
  for (auto r : {number(spec, "temperature", p.temperature), number(spec, "top_k", p.top_k),
                 number(spec, "top_p", p.top_p), number(spec, "min_p", p.min_p),
                 number(spec, "repeat_penalty", p.repeat_penalty), number(spec, "max_tokens", p.max_tokens)})
    if (!r)
      return tl::make_unexpected(r.error());
  if (spec.params.count("seed") != 0) {
    std::uint64_t seed = 0;
    if (auto r = number(spec, "seed", seed); !r)
      return tl::make_unexpected(r.error());
    p.seed = seed;
  }
  p.stop = split(option(spec, "stop"), '|');
  return p;
}

std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    auto marker = "{" + key + "}";
    for (auto pos = text.find(marker); pos != std::string::npos; pos = text.find(marker, pos + value.size()))
      text.replace(pos, marker.size(), value);
  }
  return text;
}

} // namespace troupe::agents::detail
