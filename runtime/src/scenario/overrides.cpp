#include "overrides.hpp"

#include <cctype>

#include <fmt/format.h>

namespace troupe::runtime::detail {

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '.') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

void set_origin(ynode& n, const std::string& origin) {
  n.origin = origin;
  for (auto& c : n.items) set_origin(c, origin);
}

std::string joined(const std::vector<std::string>& segs, std::size_t from, std::size_t count) {
  std::string s;
  for (std::size_t k = 0; k < count; ++k) {
    if (k) s += '.';
    s += segs[from + k];
  }
  return s;
}

std::string entry_name(const ynode& item) {
  if (const auto* n = item.find("name"); n && n->is_scalar()) return n->value;
  return {};
}

void apply_one(ynode& root, const std::string& set, reporter& rep) {
  const std::string origin = fmt::format("--set {}", set);
  const auto eq = set.find('=');
  if (eq == std::string::npos) {
    rep.error({}, origin, "an override needs the form key.path=value",
              "e.g. --set termination.max_turns=4");
    return;
  }
  const std::string path = set.substr(0, eq);
  const std::string text = set.substr(eq + 1);
  const auto segs = split_path(path);
  for (const auto& s : segs) {
    if (s.empty()) {
      rep.error({}, origin, fmt::format("empty segment in key path '{}'", path),
                "segments are separated by single dots: agents.alice.role");
      return;
    }
  }
  // The new value: a YAML flow collection when it looks like one, else a plain string.
  ynode value;
  if (!text.empty() && (text.front() == '[' || text.front() == '{')) {
    diagnostics parse_errors;
    auto parsed = parse_yaml(text, origin, parse_errors);
    if (!parsed.ok) {
      for (auto& d : parse_errors) {
        d.line = d.column = 0;
        rep.all().push_back(std::move(d));
      }
      return;
    }
    value = std::move(parsed.root);
  } else {
    value.type = ynode::kind::scalar;
    value.value = text;
  }
  set_origin(value, origin);

  ynode* cur = &root;
  std::string walked;
  std::size_t i = 0;
  while (i < segs.size()) {
    if (cur->type == ynode::kind::null) cur->type = ynode::kind::map;
    ynode* next = nullptr;
    std::size_t used = 1;
    if (cur->is_map()) {
      next = cur->find(segs[i]);
      if (!next) {
        ynode entry;
        entry.key = segs[i];
        entry.origin = origin;
        cur->items.push_back(std::move(entry));
        next = &cur->items.back();
      }
    } else if (cur->is_seq()) {
      if (all_digits(segs[i])) {
        const auto idx = std::stoul(segs[i]);
        if (idx < cur->items.size()) next = &cur->items[idx];
      }
      // Names may contain dots (topics): try the longest run of segments first.
      for (std::size_t n = segs.size() - i; !next && n >= 1; --n) {
        const auto name = joined(segs, i, n);
        for (auto& item : cur->items) {
          if (entry_name(item) == name) {
            next = &item;
            used = n;
            break;
          }
        }
      }
      if (!next) {
        std::vector<std::string> names;
        for (const auto& item : cur->items) names.push_back(entry_name(item));
        const auto guess = closest_match(segs[i], names);
        rep.error({}, origin,
                  fmt::format("'{}' has no entry named or numbered '{}' ({} entries)",
                              walked.empty() ? "<root>" : walked, segs[i], cur->items.size()),
                  guess.empty() ? "address list entries by their name or a 0-based index"
                                : fmt::format("did you mean '{}'?", guess));
        return;
      }
    } else {
      rep.error({}, origin,
                fmt::format("'{}' is a single value; it has no field '{}'", walked, segs[i]),
                "set the value itself, without the extra segment");
      return;
    }
    walked += (walked.empty() ? "" : ".") + joined(segs, i, used);
    i += used;
    cur = next;
  }
  std::string key = cur->key;
  source_mark key_at = cur->key_at;
  *cur = std::move(value);
  cur->key = std::move(key);
  cur->key_at = key_at;
}

bool valid_var_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

} // namespace

void apply_overrides(ynode& root, const std::vector<std::string>& sets, reporter& rep) {
  for (const auto& s : sets) apply_one(root, s, rep);
}

bool substitute_string(const std::string& in, std::string& out, const env_lookup& env,
                       const ynode& n, reporter& rep) {
  out.clear();
  bool ok = true;
  std::size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i++];
      continue;
    }
    if (in[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (in[i + 1] != '{') {
      out += in[i++];
      continue;
    }
    const auto close = in.find('}', i + 2);
    if (close == std::string::npos) {
      rep.error(n, fmt::format("unclosed '${{' in \"{}\"", in),
                "write ${VAR} or ${VAR:-default}; use $$ for a literal '$'");
      return false;
    }
    const std::string inner = in.substr(i + 2, close - i - 2);
    const auto dflt = inner.find(":-");
    const std::string name = inner.substr(0, dflt);
    if (!valid_var_name(name)) {
      rep.error(n, fmt::format("'{}' is not a valid environment variable name in \"{}\"", name, in),
                "names are letters, digits and '_', not starting with a digit");
      ok = false;
    } else if (auto v = env ? env(name) : std::nullopt) {
      out += *v;
    } else if (dflt != std::string::npos) {
      out += inner.substr(dflt + 2);
    } else {
      rep.error(n, fmt::format("environment variable '{}' is not set", name),
                fmt::format("export {}=..., or give a default: ${{{}:-value}}", name, name));
      ok = false;
    }
    i = close + 1;
  }
  return ok;
}

void substitute_env(ynode& root, const env_lookup& env, reporter& rep) {
  if (root.is_scalar()) {
    if (root.value.find('$') == std::string::npos) return;
    std::string out;
    if (substitute_string(root.value, out, env, root, rep)) root.value = std::move(out);
    return;
  }
  for (auto& c : root.items) substitute_env(c, env, rep);
}

} // namespace troupe::runtime::detail
