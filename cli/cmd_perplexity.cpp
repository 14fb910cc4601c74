// `troupe perplexity`: perplexity of a text file under a GGUF model (see
// troupe/inference/perplexity.hpp for the definition). Special-token text in the file, such as
// <|im_start|>, is read as the special token; no BOS is added. Prints one JSON object.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include <troupe/inference/context.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/perplexity.hpp>
#include <troupe/inference/vocab.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

namespace inf = troupe::inference;

struct perplexity_options {
  std::string model_path;
  std::string file;
  std::size_t n_ctx = 0;
  std::size_t threads = 0;
};

exit_code run_perplexity(const perplexity_options& o) {
  auto m = inf::model::load(o.model_path);
  if (!m) {
    fmt::print(stderr, "troupe perplexity: {}: {}\n", o.model_path, m.error().message);
    return exit_code::invalid_input;
  }
  auto tok = inf::tokenizer::from_gguf((*m)->file());
  if (!tok) {
    fmt::print(stderr, "troupe perplexity: tokenizer: {}\n", tok.error().message);
    return exit_code::invalid_input;
  }
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "troupe perplexity: cannot read '{}'\n", o.file);
    return exit_code::invalid_input;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto ids = tok->encode(text.str(), /*add_special=*/false, /*parse_special=*/true);
  const std::size_t window = o.n_ctx != 0 ? o.n_ctx : (*m)->params().n_ctx_train;
  inf::context_params cp;
  cp.n_ctx = window;
  cp.n_threads = o.threads;
  cp.n_batch_max = std::max<std::size_t>(window, 1);
  auto ctx = inf::context::create(*m, cp);
  if (!ctx) {
    fmt::print(stderr, "troupe perplexity: {}\n", ctx.error().message);
    return exit_code::failure;
  }
  auto r = inf::perplexity(**ctx, ids, window);
  if (!r) {
    fmt::print(stderr, "troupe perplexity: {}\n", r.error().message);
    return r.error().code == inf::errc::invalid_argument ? exit_code::usage : exit_code::failure;
  }
  fmt::print("{{\"ppl\": {:.6f}, \"nll_per_token\": {:.8f}, \"n_tokens\": {}, \"n_scored\": {}, "
             "\"ctx\": {}}}\n",
             r->ppl, r->nll_per_token, r->n_tokens, r->n_scored, r->window);
  return exit_code::ok;
}

} // namespace

void add_perplexity_command(CLI::App& app, exit_code& code) {
  auto opts = std::make_shared<perplexity_options>();
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file under a GGUF model");
  cmd->add_option("--model,-m", opts->model_path, "GGUF model file")->required();
  cmd->add_option("--file,-f", opts->file, "Text file to score")->required();
  cmd->add_option("--ctx", opts->n_ctx, "Window length in tokens (0 = the model's context)")
      ->capture_default_str();
  cmd->add_option("--threads,-t", opts->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  cmd->callback([opts, &code] { code = run_perplexity(*opts); });
}

} // namespace troupe::cli
