// troupe — command-line entry point. Each sub-command lives in its own file (cli/cmd_*.cpp)
// and registers itself here; this file only parses and dispatches.
#include <troupe/troupe.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"troupe — a multi-agent LLM runtime"};
  app.set_version_flag("--version", std::string{troupe::version});
  app.require_subcommand(0, 1);
  troupe::cli::exit_code code = troupe::cli::exit_code::ok;
  troupe::cli::register_all(app, code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(troupe::cli::exit_code::usage);
  }
  if (app.get_subcommands().empty()) {
    fmt::print("{}", app.help());
    return 0;
  }
  return static_cast<int>(code);
}
