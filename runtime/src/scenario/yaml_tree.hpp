// A small YAML document tree that keeps a line:column mark on every node and key. yaml-cpp is
// used only to build it (yaml_tree.cpp); overrides, substitution and decoding work on this.
#pragma once

#include <string>
#include <vector>

#include "troupe/runtime/diagnostic.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime::detail {

/// One node of a document. Map entries are children that carry their key.
struct ynode {
  enum class kind { null, scalar, sequence, map };
  kind type = kind::null;
  std::string value;          ///< scalar text
  std::vector<ynode> items;   ///< sequence items, or map entries (each with `key`)
  std::string key;            ///< the key when this node is a map entry
  source_mark at;             ///< where the value is
  source_mark key_at;         ///< where the key is (map entries)
  std::string origin;         ///< "" when from the file, else e.g. "--set flow.type=x"

  /// The map entry with key `k`, or nullptr.
  [[nodiscard]] const ynode* find(const std::string& k) const;
  [[nodiscard]] ynode* find(const std::string& k);
  [[nodiscard]] bool is_map() const { return type == kind::map; }
  [[nodiscard]] bool is_seq() const { return type == kind::sequence; }
  [[nodiscard]] bool is_scalar() const { return type == kind::scalar; }
};

/// Human words for a node kind ("a map", "a list", ...).
[[nodiscard]] const char* describe(ynode::kind k);

/// Parses YAML text into a tree; on a syntax error adds a diagnostic and returns nullopt-like
/// empty (null) node with `ok` false. Limits depth and node count (alias bombs).
struct parse_result {
  ynode root;
  bool ok = false;
};
[[nodiscard]] parse_result parse_yaml(const std::string& text, const std::string& file,
                                      diagnostics& out);

/// Collects diagnostics with the file name filled in.
class reporter {
public:
  explicit reporter(std::string file) : file_(std::move(file)) {}
  /// Adds an error at `at` (the origin, when set, replaces the file name).
  void error(const source_mark& at, const std::string& origin, std::string message,
             std::string hint = {});
  /// Adds an error about node `n`'s value.
  void error(const ynode& n, std::string message, std::string hint = {}) {
    error(n.at, n.origin, std::move(message), std::move(hint));
  }
  /// Adds an error about node `n`'s key.
  void key_error(const ynode& n, std::string message, std::string hint = {}) {
    error(n.key_at, n.origin, std::move(message), std::move(hint));
  }
  [[nodiscard]] diagnostics& all() { return out_; }
  [[nodiscard]] const std::string& file() const { return file_; }

private:
  std::string file_;
  diagnostics out_;
};

} // namespace troupe::runtime::detail
