#include "troupe/runtime/diagnostic.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace troupe::runtime {

std::string to_string(const diagnostic& d) {
  std::string s = d.line > 0 ? fmt::format("{}:{}:{}: error: {}", d.file, d.line, d.column, d.message)
                             : fmt::format("{}: error: {}", d.file, d.message);
  if (!d.hint.empty()) s += fmt::format("\n  hint: {}", d.hint);
  return s;
}

std::string to_string(const diagnostics& ds) {
  std::string s;
  for (const auto& d : ds) {
    s += to_string(d);
    s += '\n';
  }
  return s;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = static_cast<std::size_t>(-1);
  for (const auto& c : candidates) {
    if (c.empty()) continue;
    const auto d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // A likely typo: at most a third of the longer word changed (at least 1, at most 3 edits).
  const auto limit = std::clamp<std::size_t>(std::max(word.size(), best.size()) / 3, 1, 3);
  return best_d <= limit ? best : std::string{};
}

} // namespace troupe::runtime
