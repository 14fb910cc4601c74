// `--set key.path=value` overrides and `${VAR}` substitution on the marked YAML tree.
#pragma once

#include <string>
#include <vector>

#include "troupe/runtime/scenario_loader.hpp"
#include "yaml_tree.hpp"

namespace troupe::runtime::detail {

/// Applies each `key.path=value` to `root` in order; problems go to `rep`.
void apply_overrides(ynode& root, const std::vector<std::string>& sets, reporter& rep);

/// Replaces `${VAR}` / `${VAR:-default}` / `$$` in every scalar value under `root`.
void substitute_env(ynode& root, const env_lookup& env, reporter& rep);

/// Substitutes one string; returns false (and reports at `n`) on an unset variable or bad syntax.
bool substitute_string(const std::string& in, std::string& out, const env_lookup& env,
                       const ynode& n, reporter& rep);

} // namespace troupe::runtime::detail
