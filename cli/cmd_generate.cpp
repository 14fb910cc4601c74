// `troupe generate`: load a GGUF model and stream a completion of a prompt to stdout; the
// prefill and decode speeds go to stderr.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include <troupe/inference/chat_template.hpp>
#include <troupe/inference/context.hpp>
#include <troupe/inference/generate.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/vocab.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

namespace inf = troupe::inference;

struct generate_options {
  std::string model_path;
  std::string prompt;
  std::size_t n_predict = 128;
  inf::sampler_params sampling;
  bool chat = false;
  std::size_t threads = 0;
  std::size_t n_ctx = 0;
  bool print_token_ids = false;
  std::vector<std::string> stop;
};

exit_code code_of(const inf::error& e) {
  switch (e.code) {
    case inf::errc::invalid_file:
    case inf::errc::unsupported:
    case inf::errc::io:
      return exit_code::invalid_input;
    case inf::errc::invalid_argument:
      return exit_code::usage;
    default:
      return exit_code::failure;
  }
}

exit_code run_generate(const generate_options& o) {
  auto m = inf::model::load(o.model_path);
  if (!m) {
    fmt::print(stderr, "troupe generate: {}: {}\n", o.model_path, m.error().message);
    return code_of(m.error());
  }
  auto tok = inf::tokenizer::from_gguf((*m)->file());
  if (!tok) {
    fmt::print(stderr, "troupe generate: tokenizer: {}\n", tok.error().message);
    return code_of(tok.error());
  }
  std::string text = o.prompt;
  bool parse_special = false;
  if (o.chat) {
    auto tmpl = (*m)->file().get_string("tokenizer.chat_template");
    if (!tmpl) {
      fmt::print(stderr, "troupe generate: --chat: the model has no chat template\n");
      return exit_code::invalid_input;
    }
    const std::vector<inf::chat_message> messages{{"user", o.prompt}};
    auto wrapped = inf::apply_chat_template(*tmpl, messages, true);
    if (!wrapped) {
      fmt::print(stderr, "troupe generate: chat template: {}\n", wrapped.error().message);
      return code_of(wrapped.error());
    }
    text = *wrapped;
    parse_special = true;
  }
  const auto prompt = tok->encode(text, true, parse_special);
  if (prompt.empty()) {
    fmt::print(stderr, "troupe generate: the prompt encodes to no tokens\n");
    return exit_code::usage;
  }
  inf::context_params cp;
  cp.n_threads = o.threads;
  cp.n_ctx = o.n_ctx != 0 ? o.n_ctx : std::min<std::size_t>((*m)->params().n_ctx_train,
                                                            prompt.size() + o.n_predict);
  auto ctx = inf::context::create(*m, cp);
  if (!ctx) {
    fmt::print(stderr, "troupe generate: {}\n", ctx.error().message);
    return code_of(ctx.error());
  }
  inf::generate_params gp;
  gp.max_tokens = o.n_predict;
  gp.sampling = o.sampling;
  gp.stop = o.stop;
  auto r = inf::generate(**ctx, *tok, prompt, gp, [](std::string_view piece) {
    fmt::print("{}", piece);
    std::fflush(stdout);
    return true;
  });
  if (!r) {
    fmt::print(stderr, "\ntroupe generate: {}\n", r.error().message);
    return code_of(r.error());
  }
  fmt::print("\n");
  if (o.print_token_ids) fmt::print("{}\n", fmt::join(r->tokens, " "));
  const auto& s = r->stats;
  fmt::print(stderr, "prefill: {} tokens in {:.3f} s ({:.1f} tok/s)\n", s.prompt_tokens,
             s.prefill_s, s.prefill_tok_s());
  fmt::print(stderr, "decode: {} tokens in {:.3f} s ({:.1f} tok/s)\n", s.generated_tokens,
             s.decode_s, s.decode_tok_s());
  return exit_code::ok;
}

} // namespace

void add_generate_command(CLI::App& app, exit_code& code) {
  auto opts = std::make_shared<generate_options>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt with a GGUF model");
  cmd->add_option("--model,-m", opts->model_path, "GGUF model file")->required();
  cmd->add_option("--prompt,-p", opts->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", opts->n_predict, "Tokens to generate at most")
      ->capture_default_str();
  cmd->add_option("--temp", opts->sampling.temperature, "Temperature (0 = greedy)")
      ->capture_default_str();
  cmd->add_option("--top-k", opts->sampling.top_k, "Top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", opts->sampling.top_p, "Top-p (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", opts->sampling.min_p, "Min-p (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", opts->sampling.repeat_penalty, "Repeat penalty (1 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", opts->sampling.seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--stop", opts->stop, "Stop string (repeatable)");
  cmd->add_flag("--chat", opts->chat, "Wrap the prompt in the model's chat template");
  cmd->add_option("--threads,-t", opts->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  cmd->add_option("--ctx", opts->n_ctx, "Context length (0 = prompt + n, capped by the model)");
  cmd->add_flag("--print-token-ids", opts->print_token_ids,
                "Print the generated token ids on one line after the text");
  cmd->callback([opts, &code] { code = run_generate(*opts); });
}

} // namespace troupe::cli
