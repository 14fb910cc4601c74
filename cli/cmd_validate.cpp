// `troupe validate SCENARIO.yaml [--set key.path=value]...`: load and check, start nothing.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <troupe/runtime/scenario_loader.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

struct validate_args {
  std::string file;
  std::vector<std::string> sets;
};

} // namespace

void add_validate_command(CLI::App& app, exit_code& code) {
  auto args = std::make_shared<validate_args>();
  auto* cmd = app.add_subcommand("validate", "Check a scenario file (all errors, with file:line:column); starts nothing");
  cmd->add_option("scenario", args->file, "Scenario YAML file")->required();
  cmd->add_option("--set", args->sets,
                  "Override before validation: key.path=value (repeatable; list entries by name or "
                  "0-based index, e.g. agents.alice.role=... or termination.max_turns=4)")
      ->allow_extra_args(false);
  cmd->footer("Exit codes: 0 valid, 3 invalid (errors on stderr).");
  cmd->callback([args, &code] {
    runtime::load_options options;
    options.overrides = args->sets;
    auto s = runtime::load_scenario_file(args->file, options);
    if (!s) {
      fmt::print(stderr, "{}", runtime::to_string(s.error()));
      fmt::print(stderr, "{}: {} error{}\n", args->file, s.error().size(), s.error().size() == 1 ? "" : "s");
      code = exit_code::invalid_input;
      return;
    }
    fmt::print("OK {}: scenario '{}', {} agent{}, {} flow\n", args->file, s->name, s->agents.size(),
               s->agents.size() == 1 ? "" : "s", runtime::to_string(s->flow.type));
    code = exit_code::ok;
  });
}

} // namespace troupe::cli
