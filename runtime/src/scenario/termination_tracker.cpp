#include "troupe/runtime/termination_tracker.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace troupe::runtime {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace

termination_tracker::termination_tracker(std::optional<termination_spec> spec)
    : spec_(std::move(spec)) {}

void termination_tracker::scan(const termination_spec& t, const std::string& speaker,
                               const std::string& lowered) {
  if (t.type == termination_spec::kind::stop_phrase) {
    const bool seen = std::any_of(said_.begin(), said_.end(),
                                  [&](const auto& p) { return p.first == t.phrase; });
    if (!seen && lowered.find(lower(t.phrase)) != std::string::npos) said_.emplace_back(t.phrase, speaker);
  }
  for (const auto& c : t.children) scan(c, speaker, lowered);
}

void termination_tracker::on_message(const std::string& speaker, const std::string& text,
                                     std::int64_t tokens) {
  ++turns_;
  tokens_ += std::max<std::int64_t>(tokens, 0);
  if (spec_) scan(*spec_, speaker, lower(text));
}

std::optional<std::string> termination_tracker::eval(const termination_spec& t) const {
  using k = termination_spec::kind;
  switch (t.type) {
  case k::max_turns:
    if (turns_ >= t.limit) return fmt::format("max_turns reached ({})", t.limit);
    return std::nullopt;
  case k::max_tokens:
    if (tokens_ >= t.limit) return fmt::format("max_tokens reached ({} >= {})", tokens_, t.limit);
    return std::nullopt;
  case k::timeout:
    if (elapsed_s_ >= t.timeout_s) return fmt::format("timeout after {:.1f} s", t.timeout_s);
    return std::nullopt;
  case k::stop_phrase:
    for (const auto& [phrase, who] : said_)
      if (phrase == t.phrase) return fmt::format("stop phrase \"{}\" said by {}", phrase, who);
    return std::nullopt;
  case k::any:
    for (const auto& c : t.children)
      if (auto r = eval(c)) return r;
    return std::nullopt;
  case k::all: {
    std::string all;
    for (const auto& c : t.children) {
      auto r = eval(c);
      if (!r) return std::nullopt;
      all += (all.empty() ? "" : " and ") + *r;
    }
    if (all.empty()) return std::nullopt;
    return all;
  }
  }
  return std::nullopt;
}

std::optional<std::string> termination_tracker::reason() const {
  if (!spec_) return std::nullopt;
  return eval(*spec_);
}

} // namespace troupe::runtime
