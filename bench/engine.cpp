// bench_engine: prefill and decode speed of troupe's engine next to llama.cpp on the same
// GGUF file (random weights, SmolLM-360M shape), and the memory-bandwidth bound for decode,
// all measured in the same run. Prints a table, or JSON with --json.
//   bench_engine [--threads N] [--prompt N] [--gen N] [--reps N] [--types f16,q8_0] [--json]
//   bench_engine ... --no-llama       (troupe alone: quick A/B of two troupe builds)
//   bench_engine --bandwidth-only N   (N bandwidth probes alone, to see their spread)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <troupe/inference/context.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/model_gen.hpp>
#include <troupe/inference/thread_pool.hpp>

#include "bandwidth.hpp"
#include "bench_util.hpp"

namespace inf = troupe::inference;

namespace {

struct options {
  std::size_t threads = 2, prompt = 128, gen = 64, reps = 3;
  std::vector<std::string> types{"f16", "q8_0"};
  bool json = false;
  bool peer = true;                // --no-llama: troupe only (quick A/B of troupe builds)
  std::size_t bandwidth_only = 0;  // --bandwidth-only N: just N bandwidth probes (to see their spread)
};

struct row {
  std::string type;
  double file_mb = 0;
  double prefill = 0, decode = 0;            // troupe tok/s
  double peer_prefill = 0, peer_decode = 0;  // llama.cpp tok/s (0 = not measured)
  double bound = 0;                          // decode tok/s at the bandwidth measured around the best round
  double bytes_per_token = 0;                // weight bytes read per decoded token
  std::vector<double> round_decode, round_bw;  // each round's decode tok/s and the bandwidth around it
  std::vector<double> peer_round_decode, peer_round_bw;  // the same for llama.cpp's rounds (its whole call)
};

/// Troupe's side: a context and its prompt, timed one round at a time so that rounds of
/// troupe and of llama.cpp can alternate (on a shared machine both then see the same load).
struct troupe_runner {
  std::unique_ptr<inf::context> ctx;
  std::vector<std::int32_t> prompt;
  std::vector<float> logits;

  troupe_runner(const std::shared_ptr<const inf::model>& m, const options& o) {
    inf::context_params cp;
    cp.n_ctx = o.prompt + o.gen + 8;
    cp.n_threads = o.threads;
    ctx = std::move(*inf::context::create(m, cp));
    const auto n_vocab = static_cast<std::int32_t>(m->params().n_vocab);
    for (std::size_t i = 0; i < o.prompt; ++i) prompt.push_back(static_cast<std::int32_t>((i * 7919 + 13) % n_vocab));
  }

  /// One round: prefill then greedy decode, the decode bracketed by two bandwidth probes (the
  /// machine's bandwidth can change within seconds: the bound of a round is what the memory
  /// gave right then, the faster of the two probes); keeps the best tok/s in r.
  void round(const options& o, row& r, bench::read_probe& probe) {
    const auto seq = *ctx->seq_create();
    inf::batch b;
    b.add(seq, prompt);
    const double t0 = bench::now_s();
    (void)ctx->decode(b, logits);
    const double t1 = bench::now_s();
    auto next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    const double bw_before = probe.measure(probe_passes).best;
    const double t2 = bench::now_s();
    for (std::size_t i = 0; i < o.gen; ++i) {
      inf::batch step;
      step.add(seq, {next});
      (void)ctx->decode(step, logits);
      next = static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const double t3 = bench::now_s();
    const double bw_after = probe.measure(probe_passes).best;
    (void)ctx->seq_remove(seq);
    r.prefill = std::max(r.prefill, static_cast<double>(o.prompt) / (t1 - t0));
    const double decode = static_cast<double>(o.gen) / (t3 - t2), bw = std::max(bw_before, bw_after);
    r.round_decode.push_back(decode);
    r.round_bw.push_back(bw);
    if (decode > r.decode) {
      r.decode = decode;
      r.bound = bw / r.bytes_per_token;
    }
  }

  static constexpr int probe_passes = 4;
};

/// Best-of-reps prefill and decode tok/s of troupe and llama.cpp, rounds alternating.
void measure(const std::shared_ptr<const inf::model>& m, const std::filesystem::path& path, const options& o,
             row& r, bench::read_probe& probe) {
  troupe_runner t(m, o);
  row warm;
  warm.bytes_per_token = r.bytes_per_token;
  t.round(o, warm, probe);  // warms up caches and the pool (llama.cpp warms up inside each call)
  for (std::size_t rep = 0; rep < o.reps; ++rep) {
    t.round(o, r, probe);
    if (!o.peer) continue;
    double p = 0, d = 0;
    const double bw_before = probe.measure(troupe_runner::probe_passes).best;
    bench::measure_llama(path, o.prompt, o.gen, o.threads, 1, p, d);
    r.peer_round_decode.push_back(d);
    r.peer_round_bw.push_back(std::max(bw_before, probe.measure(troupe_runner::probe_passes).best));
    r.peer_prefill = std::max(r.peer_prefill, p);
    r.peer_decode = std::max(r.peer_decode, d);
  }
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--threads") o.threads = std::stoul(next());
    else if (a == "--prompt") o.prompt = std::stoul(next());
    else if (a == "--gen") o.gen = std::stoul(next());
    else if (a == "--reps") o.reps = std::stoul(next());
    else if (a == "--types") o.types = bench::split(next(), ',');
    else if (a == "--json") o.json = true;
    else if (a == "--no-llama") o.peer = false;
    else if (a == "--bandwidth-only") o.bandwidth_only = std::stoul(next());
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    }
  }
  const auto dir = bench::make_temp_dir();
  inf::thread_pool pool(o.threads);  // the probes' threads (as many as the engine's)
  for (std::size_t i = 0; i < o.bandwidth_only; ++i) {
    const auto b = bench::measure_read_bandwidth(pool);
    fmt::print("bandwidth probe {}: best {:.1f} median {:.1f} worst {:.1f} GB/s ({} passes, {} MiB, huge pages {})\n", i,
               b.best / 1e9, b.median / 1e9, b.worst / 1e9, b.passes, b.bytes >> 20, b.huge_pages);
  }
  if (o.bandwidth_only > 0) return 0;
  bench::read_probe probe(pool, std::size_t{512} << 20);
  std::vector<row> rows;
  for (const auto& t : o.types) {
    const auto type = inf::parse_tensor_type(t);
    auto spec = inf::model_preset("smollm-360m");
    if (!type || !spec) {
      fmt::print(stderr, "unknown type {}\n", t);
      return 2;
    }
    spec->weight_type = *type;
    const auto path = dir / fmt::format("smollm-360m-{}.gguf", t);
    if (auto w = inf::write_random_model(*spec, path); !w) {
      fmt::print(stderr, "skipping {}: cannot write {}: {}\n", t, path.string(), w.error().message);
      continue;
    }
    auto m = inf::model::load(path.string());
    if (!m) {
      fmt::print(stderr, "skipping {}: cannot load {}: {}\n", t, path.string(), m.error().message);
      std::filesystem::remove(path);
      continue;
    }
    row r;
    r.type = t;
    r.file_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    r.bytes_per_token = static_cast<double>((*m)->weight_bytes_per_token());
    measure(*m, path, o, r, probe);
    rows.push_back(r);
    std::filesystem::remove(path);
  }
  std::filesystem::remove_all(dir);
  const bench::bandwidth last = probe.measure(1);
  const double load = bench::load_average();
  const auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  const auto rounds = [](const row& r, const std::vector<double>& decode, const std::vector<double>& bw, bool json) {
    std::string out;
    for (std::size_t i = 0; i < decode.size(); ++i)
      out += json ? fmt::format("{}{{\"decode_tok_s\": {:.2f}, \"bandwidth_gb_s\": {:.2f}}}", i ? ", " : "", decode[i], bw[i] / 1e9)
                  : fmt::format("{}{:.1f} tok/s at {:.1f} GB/s = {:.0f}%", i ? ", " : "", decode[i], bw[i] / 1e9,
                                100 * decode[i] * r.bytes_per_token / bw[i]);
    return out;
  };
  if (o.json) {
    fmt::print("{{\"threads\": {}, \"prompt_tokens\": {}, \"gen_tokens\": {}, \"load_avg_1m\": {:.2f}, "
               "\"bandwidth_huge_pages\": {}, \"rows\": [",
               o.threads, o.prompt, o.gen, load, last.huge_pages);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      fmt::print("{}{{\"type\": \"{}\", \"prefill_tok_s\": {:.2f}, \"llama_prefill_tok_s\": {:.2f}, "
                 "\"decode_tok_s\": {:.2f}, \"llama_decode_tok_s\": {:.2f}, \"decode_bound_tok_s\": {:.2f}, "
                 "\"decode_rounds\": [{}], \"llama_decode_rounds\": [{}]}}",
                 i ? ", " : "", r.type, r.prefill, r.peer_prefill, r.decode, r.peer_decode, r.bound,
                 rounds(r, r.round_decode, r.round_bw, true), rounds(r, r.peer_round_decode, r.peer_round_bw, true));
    }
    fmt::print("]}}\n");
    return 0;
  }
  fmt::print("engine: SmolLM-360M shape, random weights, {} threads, prompt {} tokens, decode {} tokens\n",
             o.threads, o.prompt, o.gen);
  fmt::print("bound = read bandwidth / weight bytes read per token; the bandwidth of a round: best of {} passes over {} MiB{}\n"
             "right before and right after its decode ({} threads, each streaming its own slice); load average (1 min) at "
             "the end: {:.2f}\n\n",
             2 * troupe_runner::probe_passes, last.bytes >> 20, last.huge_pages ? " in huge pages" : "", o.threads, load);
  fmt::print("{:<6} {:>8} | {:>9} {:>9} {:>6} | {:>8} {:>8} {:>6} | {:>8} {:>7}\n", "type", "file MB",
             "prefill", "llama.cpp", "ratio", "decode", "llama", "ratio", "bound", "of bound");
  for (const auto& r : rows)
    fmt::print("{:<6} {:>8.0f} | {:>9.1f} {:>9.1f} {:>5.2f}x | {:>8.1f} {:>8.1f} {:>5.2f}x | {:>8.1f} {:>6.0f}%\n",
               r.type, r.file_mb, r.prefill, r.peer_prefill, ratio(r.prefill, r.peer_prefill), r.decode,
               r.peer_decode, ratio(r.decode, r.peer_decode), r.bound, 100 * ratio(r.decode, r.bound));
  fmt::print("\n(tok/s, best of {} rounds, troupe and llama.cpp alternating; llama.cpp = 0 when bench_llama_peer was not "
             "built; bound and of bound: those of troupe's best decode round)\n", o.reps);
  fmt::print("decode rounds, each against the bandwidth probed right before and after it (llama.cpp: around its "
             "whole call):\n");
  for (const auto& r : rows) {
    fmt::print("  {:<5} troupe:    {}\n", r.type, rounds(r, r.round_decode, r.round_bw, false));
    if (!r.peer_round_decode.empty())
      fmt::print("  {:<5} llama.cpp: {}\n", r.type, rounds(r, r.peer_round_decode, r.peer_round_bw, false));
  }
  return 0;
}
