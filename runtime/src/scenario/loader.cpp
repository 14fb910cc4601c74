// YAML text -> marked tree -> overrides -> ${VAR} -> decode -> validate.
#include "troupe/runtime/scenario_loader.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "decode.hpp"
#include "overrides.hpp"

namespace troupe::runtime {

namespace {

std::optional<std::string> process_env(const std::string& name) {
  if (const char* v = std::getenv(name.c_str())) return std::string{v};
  return std::nullopt;
}

} // namespace

load_result load_scenario_text(const std::string& text, const std::string& file,
                               const load_options& options) {
  detail::reporter rep(file);
  auto parsed = detail::parse_yaml(text, file, rep.all());
  if (!parsed.ok) return tl::make_unexpected(std::move(rep.all()));
  if (parsed.root.type == detail::ynode::kind::null) {
    rep.error({1, 1}, {}, "the scenario file is empty",
              "start from configs/scenarios/debate.yaml");
    return tl::make_unexpected(std::move(rep.all()));
  }
  detail::apply_overrides(parsed.root, options.overrides, rep);
  detail::substitute_env(parsed.root, options.env ? options.env : env_lookup{process_env}, rep);

  scenario s;
  s.file = file;
  detail::ref_marks refs;
  detail::decode_scenario(parsed.root, rep, s, refs);
  detail::validate_scenario(s, parsed.root, refs, rep);
  if (!rep.all().empty()) {
    auto all = std::move(rep.all());
    // File order; problems without a position (overrides) first.
    std::stable_sort(all.begin(), all.end(), [](const diagnostic& a, const diagnostic& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return tl::make_unexpected(std::move(all));
  }
  return s;
}

load_result load_scenario_file(const std::filesystem::path& path, const load_options& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::make_unexpected(diagnostics{
        {path.string(), 0, 0, "cannot open the scenario file", "check the path and permissions"}});
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_scenario_text(ss.str(), path.string(), options);
}

} // namespace troupe::runtime
