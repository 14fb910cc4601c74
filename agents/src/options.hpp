// Reading agent_spec::params (private helpers).
#pragma once

#include <charconv>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "troupe/runtime/agent.hpp"
#include "troupe/runtime/inference_client.hpp"

namespace troupe::agents::detail {

/// Splits on `sep`, trimming spaces, skipping empty pieces.
std::vector<std::string> split(std::string_view text, char sep);

/// The option `key` or `fallback`.
std::string option(const runtime::agent_spec& spec, const std::string& key, std::string fallback = {});

/// Sampling parameters from the spec's options (defaults where absent).
runtime::result<runtime::sampling_params> sampling_from(const runtime::agent_spec& spec);

/// Replaces each "{key}" in `text` by `values[key]`.
std::string fill(std::string text, const std::map<std::string, std::string>& values);

} // namespace troupe::agents::detail
