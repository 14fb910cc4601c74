// Loading a scenario: YAML text -> overrides -> ${VAR} substitution -> decoding -> validation.
// Either a whole, valid scenario comes back or every problem found, each with file:line:column.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "troupe/runtime/diagnostic.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// Looks up an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// How to load a scenario.
struct load_options {
  /// `key.path=value` overrides applied before validation, in order. Path segments are
  /// separated by '.'; list entries (agents, topics) are addressed by their `name` or by a
  /// 0-based index: `agents.alice.role=...`, `agents.0.kind=human`, `termination.max_turns=4`.
  /// A value starting with '[' or '{' is parsed as a YAML flow list/map, anything else is a
  /// plain string (types are checked afterwards like any other value).
  std::vector<std::string> overrides;
  /// Used for `${VAR}` and `${VAR:-default}` in string values; defaults to the process
  /// environment. `$$` writes a literal '$'.
  env_lookup env;
};

/// The result of loading: a valid scenario or all diagnostics.
using load_result = tl::expected<scenario, diagnostics>;

/// Parses and validates YAML `text`; `file` names it in diagnostics.
[[nodiscard]] load_result load_scenario_text(const std::string& text, const std::string& file,
                                             const load_options& options = {});

/// Reads `path` and calls load_scenario_text.
[[nodiscard]] load_result load_scenario_file(const std::filesystem::path& path,
                                             const load_options& options = {});

} // namespace troupe::runtime
