// Typed, checked access to the keys of one YAML map, reporting every problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yaml_tree.hpp"

namespace troupe::runtime::detail {

/// Reads one map: on construction reports keys not in `allowed` (with a "did you mean"
/// hint); the getters report missing required keys, wrong types and out-of-range values and
/// leave the output untouched on error.
class map_reader {
public:
  /// `what` names the map in messages, e.g. "agent 'alice'".
  map_reader(const ynode& n, std::string what, reporter& rep, std::vector<std::string> allowed);

  /// The entry for `key`, or nullptr (reports when `required`).
  const ynode* get(const std::string& key, bool required = false);
  bool has(const std::string& key) const { return n_.find(key) != nullptr; }

  bool str(const std::string& key, std::string& out, bool required = false);
  bool integer(const std::string& key, std::int64_t& out, std::int64_t min, std::int64_t max,
               bool required = false);
  bool integer(const std::string& key, int& out, int min, int max, bool required = false);
  bool real(const std::string& key, double& out, double min, double max, bool min_open = false,
            bool required = false);
  bool str_list(const std::string& key, std::vector<std::string>& out, bool required = false);
  /// One of `choices`; stores the index.
  bool choice(const std::string& key, const std::vector<std::string>& choices, int& out,
              bool required = false);

  const std::string& what() const { return what_; }
  const ynode& node() const { return n_; }

private:
  const ynode& n_;
  std::string what_;
  reporter& rep_;
};

/// Reports and returns false unless `n` is a map.
bool expect_map(const ynode& n, const std::string& what, reporter& rep);
/// Reports and returns false unless `n` is a list.
bool expect_seq(const ynode& n, const std::string& what, reporter& rep);
/// Parses a whole scalar as an integer / a number.
bool parse_int(const std::string& s, std::int64_t& out);
bool parse_real(const std::string& s, double& out);

} // namespace troupe::runtime::detail
