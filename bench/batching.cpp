// bench_batching: aggregate decode speed of N sequences decoding together on one engine
// context (one batch per step, one token per sequence), against one sequence alone and
// against llama.cpp's batched decoding (llama_batch with one seq_id per token) on the same
// GGUF file, measured in the same run with rounds alternating. Prints a table, or JSON.
//   bench_batching [--threads N] [--layers N] [--type q8_0] [--prompt N] [--gen N] [--reps N]
//                  [--seqs 1,4,8,16] [--json] [--no-llama]
// The model is the SmolLM-360M shape (n_embd 960, 15 heads, 5 KV heads, ffn 2560, vocab
// 49152) with random weights and --layers layers (default 8, so a run takes a minute or two).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <troupe/inference/context.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/model_gen.hpp>

#include "bench_util.hpp"

namespace inf = troupe::inference;

namespace {

struct options {
  std::size_t threads = 2, layers = 8, prompt = 32, gen = 32, reps = 2;
  std::string type = "q8_0";
  std::vector<std::size_t> seqs{1, 4, 8, 16};
  bool json = false;
  bool peer = true;  // --no-llama: troupe only (for profiling)
};

struct row {
  std::size_t n_seq = 0;
  double troupe = 0, peer = 0;  // aggregate decode tok/s (peer 0 = not measured)
};

std::int32_t prompt_token(std::size_t seq, std::size_t i, std::size_t n_vocab) {
  return static_cast<std::int32_t>((i * 7919 + 13 + seq * 104729) % n_vocab);  // as the peer
}

/// One round on troupe's context: n sequences get their prompts (one batch, not timed), then
/// `gen` steps each decode one token of every sequence in one batch. Returns tok/s.
double troupe_round(inf::context& ctx, const options& o, std::size_t n) {
  const std::size_t n_vocab = ctx.n_vocab();
  std::vector<inf::seq_id> seqs;
  inf::batch prompts;
  for (std::size_t s = 0; s < n; ++s) {
    seqs.push_back(*ctx.seq_create());
    std::vector<std::int32_t> p;
    for (std::size_t i = 0; i < o.prompt; ++i) p.push_back(prompt_token(s, i, n_vocab));
    prompts.add(seqs.back(), std::move(p));
  }
  std::vector<float> logits;
  (void)ctx.decode(prompts, logits);
  auto argmax = [&](std::size_t s) {
    const auto* l = logits.data() + s * n_vocab;
    return static_cast<std::int32_t>(std::max_element(l, l + n_vocab) - l);
  };
  std::vector<std::int32_t> next(n);
  for (std::size_t s = 0; s < n; ++s) next[s] = argmax(s);
  const double t0 = bench::now_s();
  for (std::size_t step = 0; step < o.gen; ++step) {
    inf::batch b;
    for (std::size_t s = 0; s < n; ++s) b.add(seqs[s], {next[s]});
    (void)ctx.decode(b, logits);
    for (std::size_t s = 0; s < n; ++s) next[s] = argmax(s);
  }
  const double t1 = bench::now_s();
  for (const auto s : seqs) (void)ctx.seq_remove(s);
  return static_cast<double>(n * o.gen) / (t1 - t0);
}

std::vector<std::size_t> parse_list(const std::string& s) {
  std::vector<std::size_t> out;
  for (const auto& item : bench::split(s, ',')) out.push_back(std::stoul(item));
  return out;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads") o.threads = std::stoul(next());
    else if (a == "--layers") o.layers = std::stoul(next());
    else if (a == "--type") o.type = next();
    else if (a == "--prompt") o.prompt = std::stoul(next());
    else if (a == "--gen") o.gen = std::stoul(next());
    else if (a == "--reps") o.reps = std::stoul(next());
    else if (a == "--seqs") o.seqs = parse_list(next());
    else if (a == "--json") o.json = true;
    else if (a == "--no-llama") o.peer = false;
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    }
  }
  if (o.seqs.empty() || o.reps == 0 || o.gen == 0 || o.prompt == 0) {
    fmt::print(stderr, "--seqs, --reps, --gen and --prompt must be non-empty / positive\n");
    return 2;
  }
  auto spec = inf::model_preset("smollm-360m");
  const auto type = inf::parse_tensor_type(o.type);
  if (!spec || !type) {
    fmt::print(stderr, "unknown type {}\n", o.type);
    return 2;
  }
  spec->weight_type = *type;
  spec->n_layer = static_cast<std::uint32_t>(o.layers);
  const auto dir = bench::make_temp_dir();
  const auto path = dir / fmt::format("smollm-360m-{}l-{}.gguf", o.layers, o.type);
  if (auto w = inf::write_random_model(*spec, path); !w) {
    fmt::print(stderr, "cannot write {}: {}\n", path.string(), w.error().message);
    return 1;
  }
  auto m = inf::model::load(path.string());
  if (!m) {
    fmt::print(stderr, "cannot load {}: {}\n", path.string(), m.error().message);
    return 1;
  }
  const double file_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
  inf::context_params cp;
  cp.n_seq_max = *std::max_element(o.seqs.begin(), o.seqs.end());
  cp.n_ctx = o.prompt + o.gen + 8;
  cp.n_threads = o.threads;
  cp.n_batch_max = std::max<std::size_t>(512, cp.n_seq_max * o.prompt);
  auto ctx = inf::context::create(*m, cp);
  if (!ctx) {
    fmt::print(stderr, "cannot create a context: {}\n", ctx.error().message);
    return 1;
  }

  std::vector<row> rows;
  (void)troupe_round(**ctx, o, o.seqs.front());  // warm-up
  for (const auto n : o.seqs) {
    row r;
    r.n_seq = n;
    for (std::size_t rep = 0; rep < o.reps; ++rep) {  // troupe and llama.cpp alternate
      r.troupe = std::max(r.troupe, troupe_round(**ctx, o, n));
      if (o.peer) r.peer = std::max(r.peer, bench::measure_llama_batched(path, o.prompt, o.gen, o.threads, 1, n));
    }
    rows.push_back(r);
  }
  std::filesystem::remove_all(dir);

  const double load = bench::load_average();
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  const row* single = nullptr;
  for (const auto& r : rows)
    if (r.n_seq == 1) single = &r;
  if (o.json) {
    fmt::print("{{\"model\": \"smollm-360m shape, {} layers, {}\", \"file_mb\": {:.1f}, \"threads\": {}, "
               "\"prompt_tokens\": {}, \"gen_tokens\": {}, \"load_avg_1m\": {:.2f}, \"rows\": [",
               o.layers, o.type, file_mb, o.threads, o.prompt, o.gen, load);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      fmt::print("{}{{\"n_seq\": {}, \"decode_tok_s\": {:.2f}, \"llama_decode_tok_s\": {:.2f}, "
                 "\"vs_single\": {:.2f}, \"vs_llama\": {:.2f}}}",
                 i ? ", " : "", r.n_seq, r.troupe, r.peer, single ? ratio(r.troupe, single->troupe) : 0.0,
                 ratio(r.troupe, r.peer));
    }
    fmt::print("]}}\n");
    return 0;
  }
  fmt::print("batched decode: SmolLM-360M shape with {} layers, {} ({:.0f} MB), {} threads, prompt {} tokens per "
             "sequence, {} decode steps\nload average (1 min) at the end: {:.2f}\n\n",
             o.layers, o.type, file_mb, o.threads, o.prompt, o.gen, load);
  fmt::print("{:>5} | {:>10} {:>9} | {:>10} {:>9} | {:>9}\n", "seqs", "troupe", "x single", "llama.cpp", "x single",
             "vs llama");
  const row* peer_single = single;
  for (const auto& r : rows)
    fmt::print("{:>5} | {:>10.1f} {:>8.2f}x | {:>10.1f} {:>8.2f}x | {:>8.2f}x\n", r.n_seq, r.troupe,
               single ? ratio(r.troupe, single->troupe) : 0.0, r.peer,
               peer_single ? ratio(r.peer, peer_single->peer) : 0.0, ratio(r.troupe, r.peer));
  fmt::print("\n(aggregate decode tok/s over all sequences, best of {} rounds, troupe and llama.cpp alternating;\n"
             " llama.cpp = 0 when bench_llama_peer was not built)\n", o.reps);
  return 0;
}
