// `troupe gen-model`: write a random-weight Llama-family model (for tests and benchmarks).
#include <memory>
#include <string>

#include <fmt/format.h>

#include <troupe/inference/model_gen.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

namespace inf = troupe::inference;

/// Command-line values; optional ones override the preset only when given.
struct gen_options {
  std::string out;
  std::string preset = "tiny";
  std::string arch;
  std::string tokenizer;
  std::string type = "f32";
  std::uint32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0,
                n_ctx = 0;
  float rope_theta = 0, rms_eps = 0, weight_std = 0;
  std::uint64_t seed = 1;
  bool tied = false, untied = false;
};

exit_code exit_for(inf::errc e) {
  switch (e) {
    case inf::errc::invalid_argument: return exit_code::usage;
    case inf::errc::unsupported: return exit_code::unavailable;
    default: return exit_code::failure;
  }
}

exit_code run_gen_model(const gen_options& o) {
  auto spec = inf::model_preset(o.preset);
  if (!spec) {
    fmt::print(stderr, "troupe gen-model: {}\n", spec.error().message);
    return exit_code::usage;
  }
  auto type = inf::parse_tensor_type(o.type);
  if (!type) {
    fmt::print(stderr, "troupe gen-model: {}\n", type.error().message);
    return exit_code::usage;
  }
  inf::model_spec& s = *spec;
  s.weight_type = *type;
  s.seed = o.seed;
  if (!o.arch.empty()) s.arch = o.arch;
  if (!o.tokenizer.empty()) s.tokenizer = o.tokenizer;
  auto set = [](auto& field, auto value) {
    if (value != 0) field = value;
  };
  set(s.n_vocab, o.n_vocab);
  set(s.n_embd, o.n_embd);
  set(s.n_layer, o.n_layer);
  set(s.n_head, o.n_head);
  set(s.n_head_kv, o.n_head_kv);
  set(s.n_ff, o.n_ff);
  set(s.n_ctx, o.n_ctx);
  set(s.rope_theta, o.rope_theta);
  set(s.rms_eps, o.rms_eps);
  set(s.weight_std, o.weight_std);
  if (o.tied) s.tied_output = true;
  if (o.untied) s.tied_output = false;
  if (auto r = inf::write_random_model(s, o.out); !r) {
    fmt::print(stderr, "troupe gen-model: {}\n", r.error().message);
    return exit_for(r.error().code);
  }
  fmt::print("wrote {}: {} {} ({} vocab {}, embd {}, layers {}, heads {}/{}, ffn {}, ctx {}, {}, seed {})\n",
             o.out, s.arch, inf::traits_of(s.weight_type).name, s.tokenizer, s.n_vocab, s.n_embd, s.n_layer,
             s.n_head, s.n_head_kv, s.n_ff, s.n_ctx, s.tied_output ? "tied" : "untied", s.seed);
  return exit_code::ok;
}

} // namespace

void add_gen_model_command(CLI::App& app, exit_code& code) {
  auto* cmd = app.add_subcommand("gen-model", "Write a random-weight Llama-family GGUF model");
  auto o = std::make_shared<gen_options>();
  cmd->add_option("--out,-o", o->out, "output .gguf file")->required();
  cmd->add_option("--preset", o->preset, "tiny | smollm-360m")->capture_default_str();
  cmd->add_option("--arch", o->arch, "llama | qwen2 (default: the preset's)");
  cmd->add_option("--tokenizer", o->tokenizer, "llama (SentencePiece, default) | gpt2 (byte-level BPE)");
  cmd->add_option("--type", o->type, "weight type: f32 | f16 | bf16 | q8_0 | q4_0 | q4_k | q6_k")
      ->capture_default_str();
  cmd->add_option("--n-vocab", o->n_vocab, "vocabulary size (>= 259)");
  cmd->add_option("--n-embd", o->n_embd, "embedding width");
  cmd->add_option("--n-layer", o->n_layer, "number of blocks");
  cmd->add_option("--n-head", o->n_head, "attention heads");
  cmd->add_option("--n-head-kv", o->n_head_kv, "key/value heads");
  cmd->add_option("--n-ff", o->n_ff, "feed-forward width");
  cmd->add_option("--n-ctx", o->n_ctx, "context length");
  cmd->add_option("--rope-theta", o->rope_theta, "RoPE base frequency");
  cmd->add_option("--rms-eps", o->rms_eps, "RMSNorm epsilon");
  cmd->add_option("--std", o->weight_std, "standard deviation of the weights (default 0.1)");
  cmd->add_option("--seed", o->seed, "PRNG seed")->capture_default_str();
  auto* tied = cmd->add_flag("--tied", o->tied, "reuse token_embd.weight for the output");
  cmd->add_flag("--untied", o->untied, "write a separate output.weight")->excludes(tied);
  cmd->callback([o, &code] { code = run_gen_model(*o); });
}

} // namespace troupe::cli
