// The list of sub-commands. Each cmd_*.cpp defines one add_*_command function.
#include "commands.hpp"

namespace troupe::cli {

void register_all(CLI::App& app, exit_code& code) {
  add_validate_command(app, code);
  add_run_command(app, code);
  add_inspect_command(app, code);
  add_gen_model_command(app, code);
  add_generate_command(app, code);
  add_perplexity_command(app, code);
  add_serve_command(app, code);
}

} // namespace troupe::cli
