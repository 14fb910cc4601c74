// The CLI's sub-commands and exit codes (documented in README.md, "Exit codes").
#pragma once

#include <CLI/CLI.hpp>

namespace troupe::cli {

/// Process exit codes shared by every sub-command.
enum class exit_code : int {
  ok = 0,           ///< success
  failure = 1,      ///< the command ran and failed (e.g. a run ended in error)
  usage = 2,        ///< bad command line
  invalid_input = 3,///< a scenario, model or other input file is invalid
  unavailable = 4,  ///< a needed component (e.g. a model engine) is not available
};

/// `troupe validate`: checks a scenario file (cmd_validate.cpp).
void add_validate_command(CLI::App& app, exit_code& code);
/// `troupe run`: runs a scenario (cmd_run.cpp).
void add_run_command(CLI::App& app, exit_code& code);
/// `troupe inspect MODEL.gguf` (cmd_inspect.cpp).
void add_inspect_command(CLI::App& app, exit_code& code);
/// `troupe gen-model --out F.gguf ...` (cmd_gen_model.cpp).
void add_gen_model_command(CLI::App& app, exit_code& code);
/// `troupe generate`: stream a completion of a prompt with a GGUF model.
void add_generate_command(CLI::App& app, exit_code& code);
/// `troupe perplexity --model M.gguf --file TEXT [--ctx N]`: perplexity of a text file.
void add_perplexity_command(CLI::App& app, exit_code& code);
/// `troupe serve --model M.gguf [--host H] [--port P]`: an OpenAI-compatible HTTP endpoint.
void add_serve_command(CLI::App& app, exit_code& code);

/// Adds every sub-command to `app`; the one that runs stores its result in `code`.
void register_all(CLI::App& app, exit_code& code);

} // namespace troupe::cli
