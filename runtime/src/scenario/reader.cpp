#include "reader.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace troupe::runtime::detail {

bool parse_int(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  if (*b == '+') ++b;
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  if (*b == '+') ++b;
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && std::isfinite(out);
}

bool expect_map(const ynode& n, const std::string& what, reporter& rep) {
  if (n.is_map()) return true;
  rep.error(n, fmt::format("{} must be a map of keys, got {}", what, describe(n.type)),
            "write one 'key: value' per line, indented under it");
  return false;
}

bool expect_seq(const ynode& n, const std::string& what, reporter& rep) {
  if (n.is_seq()) return true;
  rep.error(n, fmt::format("{} must be a list, got {}", what, describe(n.type)),
            "write one '- item' per line, indented under it");
  return false;
}

map_reader::map_reader(const ynode& n, std::string what, reporter& rep,
                       std::vector<std::string> allowed)
    : n_(n), what_(std::move(what)), rep_(rep) {
  std::vector<std::string> seen;
  for (const auto& e : n_.items) {
    bool known = false;
    for (const auto& a : allowed) known = known || a == e.key;
    if (!known) {
      const auto guess = closest_match(e.key, allowed);
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      rep_.key_error(e, fmt::format("unknown key '{}' in {}", e.key, what_),
                     guess.empty() ? fmt::format("allowed keys: {}", list)
                                   : fmt::format("did you mean '{}'?", guess));
    }
    for (const auto& s : seen) {
      if (s == e.key) {
        rep_.key_error(e, fmt::format("duplicate key '{}' in {}", e.key, what_),
                       "each key may appear once; remove one of them");
      }
    }
    seen.push_back(e.key);
  }
}

const ynode* map_reader::get(const std::string& key, bool required) {
  const auto* e = n_.find(key);
  if ((!e || e->type == ynode::kind::null) && required) {
    rep_.error(e ? *e : n_, fmt::format("missing required key '{}' in {}", key, what_),
               fmt::format("add '{}: ...'", key));
    return nullptr;
  }
  return e;
}

bool map_reader::str(const std::string& key, std::string& out, bool required) {
  const auto* e = get(key, required);
  if (!e || (e->type == ynode::kind::null && !required)) return false;
  if (!e->is_scalar()) {
    rep_.error(*e, fmt::format("'{}' in {} must be text, got {}", key, what_, describe(e->type)),
               "quote the value if it contains ':' or starts with '[' or '{'");
    return false;
  }
  out = e->value;
  return true;
}

bool map_reader::integer(const std::string& key, std::int64_t& out, std::int64_t min,
                         std::int64_t max, bool required) {
  const auto* e = get(key, required);
  if (!e || e->type == ynode::kind::null) return false;
  std::int64_t v = 0;
  if (!e->is_scalar() || !parse_int(e->value, v)) {
    rep_.error(*e, fmt::format("'{}' in {} must be an integer, got {}", key, what_,
                               e->is_scalar() ? fmt::format("'{}'", e->value) : describe(e->type)),
               fmt::format("e.g. {}: {}", key, min));
    return false;
  }
  if (v < min || v > max) {
    rep_.error(*e, fmt::format("'{}' in {} is out of range: got {}", key, what_, v),
               fmt::format("allowed: {} to {}", min, max));
    return false;
  }
  out = v;
  return true;
}

bool map_reader::integer(const std::string& key, int& out, int min, int max, bool required) {
  std::int64_t v = 0;
  if (!integer(key, v, min, max, required)) return false;
  out = static_cast<int>(v);
  return true;
}

bool map_reader::real(const std::string& key, double& out, double min, double max, bool min_open,
                      bool required) {
  const auto* e = get(key, required);
  if (!e || e->type == ynode::kind::null) return false;
  double v = 0;
  if (!e->is_scalar() || !parse_real(e->value, v)) {
    rep_.error(*e, fmt::format("'{}' in {} must be a number, got {}", key, what_,
                               e->is_scalar() ? fmt::format("'{}'", e->value) : describe(e->type)));
    return false;
  }
  if ((min_open ? v <= min : v < min) || v > max) {
    rep_.error(*e, fmt::format("'{}' in {} is out of range: got {}", key, what_, e->value),
               fmt::format("allowed: {}{}, {}]", min_open ? "(" : "[", min, max));
    return false;
  }
  out = v;
  return true;
}

bool map_reader::str_list(const std::string& key, std::vector<std::string>& out, bool required) {
  const auto* e = get(key, required);
  if (!e || e->type == ynode::kind::null) return false;
  if (e->is_scalar()) {  // a single string is a one-item list
    out = {e->value};
    return true;
  }
  if (!e->is_seq()) {
    rep_.error(*e, fmt::format("'{}' in {} must be a list of text, got {}", key, what_,
                               describe(e->type)));
    return false;
  }
  std::vector<std::string> v;
  bool ok = true;
  for (const auto& item : e->items) {
    if (!item.is_scalar()) {
      rep_.error(item, fmt::format("items of '{}' in {} must be text, got {}", key, what_,
                                   describe(item.type)));
      ok = false;
    } else {
      v.push_back(item.value);
    }
  }
  if (ok) out = std::move(v);
  return ok;
}

bool map_reader::choice(const std::string& key, const std::vector<std::string>& choices, int& out,
                        bool required) {
  std::string s;
  if (!str(key, s, required)) return false;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == s) {
      out = static_cast<int>(i);
      return true;
    }
  }
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  const auto guess = closest_match(s, choices);
  rep_.error(*n_.find(key), fmt::format("'{}' in {} must be one of {}; got '{}'", key, what_, list, s),
             guess.empty() ? std::string{"use one of the listed values"}
                           : fmt::format("did you mean '{}'?", guess));
  return false;
}

} // namespace troupe::runtime::detail
