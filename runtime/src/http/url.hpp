// Splitting an http(s) base URL into what cpp-httplib's client needs.
#pragma once

#include <string>
#include <string_view>

#include "troupe/runtime/error.hpp"

namespace troupe::runtime::detail {

/// A parsed "scheme://host[:port][/prefix]".
struct http_url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< without brackets for IPv6 literals
  int port = 0;        ///< explicit, or 80 / 443
  std::string path;    ///< the prefix without a trailing "/" ("" for none)

  /// "scheme://host:port" (brackets around IPv6 literals), as httplib::Client takes it.
  [[nodiscard]] std::string origin() const;
};

/// Parses `text`. Errors: errc::invalid_argument naming what is wrong.
result<http_url> parse_http_url(std::string_view text);

/// The chat completions path under `prefix`: PREFIX/v1/chat/completions, or
/// PREFIX/chat/completions when the prefix ends in "/v1".
std::string chat_completions_path(const std::string& prefix);

} // namespace troupe::runtime::detail
