#include "http/url.hpp"

#include <charconv>

#include <fmt/format.h>

namespace troupe::runtime::detail {

std::string http_url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
}

result<http_url> parse_http_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(errc::invalid_argument, fmt::format("base_url '{}': {}", text, why));
  };
  http_url u;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return bad("expected http://host:port or https://host:port");
  u.scheme = std::string{text.substr(0, sep)};
  for (auto& c : u.scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (u.scheme != "http" && u.scheme != "https") return bad("the scheme must be http or https");
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return bad("user info in the URL is not supported (use api_key_env)");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    u.host = std::string{authority.substr(1, close - 1)};
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 host");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return bad("no host");
  u.port = u.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || p < 1 || p > 65535)
      return bad(fmt::format("port '{}' is not a number from 1 to 65535", port_text));
    u.port = p;
  }
  if (path.find_first_of("?#") != std::string_view::npos) return bad("query or fragment in the URL is not supported");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  u.path = std::string{path};
  return u;
}

std::string chat_completions_path(const std::string& prefix) {
  const bool has_v1 = prefix.size() >= 3 && prefix.compare(prefix.size() - 3, 3, "/v1") == 0;
  return prefix + (has_v1 ? "/chat/completions" : "/v1/chat/completions");
}

} // namespace troupe::runtime::detail
