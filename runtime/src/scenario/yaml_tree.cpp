// Building the marked tree from yaml-cpp. yaml-cpp throws; every exception stops here.
#include "yaml_tree.hpp"

#include <exception>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace troupe::runtime::detail {

namespace {

constexpr int max_depth = 64;             // deeper documents are rejected (and alias cycles)
constexpr std::size_t max_nodes = 100000; // alias bombs ("billion laughs") are rejected

source_mark to_mark(const YAML::Mark& m) {
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

struct converter {
  std::size_t nodes = 0;
  bool too_big = false;
  bool too_deep = false;
  source_mark where;

  void convert(const YAML::Node& in, ynode& out, int depth) {
    if (too_big || too_deep) return;
    if (++nodes > max_nodes) {
      too_big = true;
      where = to_mark(in.Mark());
      return;
    }
    if (depth > max_depth) {
      too_deep = true;
      where = to_mark(in.Mark());
      return;
    }
    out.at = to_mark(in.Mark());
    switch (in.Type()) {
    case YAML::NodeType::Scalar:
      out.type = ynode::kind::scalar;
      out.value = in.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out.type = ynode::kind::sequence;
      for (const auto& item : in) {
        out.items.emplace_back();
        convert(item, out.items.back(), depth + 1);
      }
      break;
    case YAML::NodeType::Map:
      out.type = ynode::kind::map;
      for (const auto& kv : in) {
        ynode entry;
        entry.key_at = to_mark(kv.first.Mark());
        if (kv.first.IsScalar()) {
          entry.key = kv.first.Scalar();
        } else {
          entry.key = "<non-scalar key>";
        }
        convert(kv.second, entry, depth + 1);
        out.items.push_back(std::move(entry));
      }
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.type = ynode::kind::null;
      break;
    }
  }
};

} // namespace

const ynode* ynode::find(const std::string& k) const {
  if (type != kind::map) return nullptr;
  for (const auto& e : items)
    if (e.key == k) return &e;
  return nullptr;
}

ynode* ynode::find(const std::string& k) {
  return const_cast<ynode*>(static_cast<const ynode*>(this)->find(k));
}

const char* describe(ynode::kind k) {
  switch (k) {
  case ynode::kind::null: return "empty";
  case ynode::kind::scalar: return "a single value";
  case ynode::kind::sequence: return "a list";
  case ynode::kind::map: return "a map";
  }
  return "?";
}

void reporter::error(const source_mark& at, const std::string& origin, std::string message,
                     std::string hint) {
  diagnostic d;
  d.file = origin.empty() ? file_ : origin;
  if (origin.empty()) {
    d.line = at.line;
    d.column = at.column;
  }
  d.message = std::move(message);
  d.hint = std::move(hint);
  out_.push_back(std::move(d));
}

parse_result parse_yaml(const std::string& text, const std::string& file, diagnostics& out) {
  parse_result r;
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const auto m = to_mark(e.mark);
    out.push_back({file, m.line, m.column, fmt::format("YAML syntax error: {}", e.msg),
                   "check indentation, quoting and that every ':' is followed by a space"});
    return r;
  } catch (const std::exception& e) {
    out.push_back({file, 0, 0, fmt::format("could not parse YAML: {}", e.what()), {}});
    return r;
  }
  converter c;
  try {
    c.convert(doc, r.root, 0);
  } catch (const std::exception& e) {
    out.push_back({file, 0, 0, fmt::format("could not read YAML: {}", e.what()), {}});
    return r;
  }
  if (c.too_big) {
    out.push_back({file, c.where.line, c.where.column,
                   fmt::format("document expands to more than {} nodes", max_nodes),
                   "avoid deeply nested aliases"});
    return r;
  }
  if (c.too_deep) {
    out.push_back({file, c.where.line, c.where.column,
                   fmt::format("document nests deeper than {} levels", max_depth),
                   "a scenario needs only a few levels; check for recursive aliases"});
    return r;
  }
  r.ok = true;
  return r;
}

} // namespace troupe::runtime::detail
