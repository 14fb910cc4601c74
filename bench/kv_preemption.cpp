// The price of a small KV budget: N greedy requests submitted together to an engine client
// whose KV cache holds all of them (the peer, measured in the same run) and to clients whose
// budget holds only a fraction, so that the newest running requests are preempted and
// computed again later. Prints wall time, tokens/s, preemptions, recomputed tokens and the
// throughput ratio against the full budget; checks that every output equals the peer's.
// Usage: bench_kv_preemption [MODEL.gguf] [--requests N] [--tokens T] [--threads K] [--json]
// Without a model it writes a random one (n_embd 512, 4 layers, f16) to the temp directory.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <troupe/inference/model.hpp>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>

#include "bench_util.hpp"

using namespace troupe;

namespace {

constexpr std::size_t block_tokens = 16;

struct row {
  std::string mode;
  std::size_t budget_blocks = 0;  ///< 0 = every slot's whole context
  double wall_s = 0;
  std::size_t tokens = 0, failed = 0;
  runtime::engine_stats stats;
  std::vector<std::string> texts;
};

/// `n` requests of different lengths ("Request number i: tell a story.", at most
/// `max_tokens` tokens), submitted at once; blocks until all have ended.
row run(const std::string& model, std::size_t n, int max_tokens, std::size_t threads, std::size_t budget_blocks,
        std::size_t block_bytes, std::string mode) {
  runtime::engine_options o;
  o.default_model = model;
  o.max_sequences = n;
  o.n_threads = threads;
  o.context_tokens = 512;
  o.kv_block_tokens = block_tokens;
  o.kv_budget_bytes = budget_blocks * block_bytes;
  auto c = runtime::make_engine_client(o);
  if (!c) {
    fmt::print(stderr, "{}\n", c.error().message);
    std::exit(1);
  }
  row r;
  r.mode = std::move(mode);
  r.budget_blocks = budget_blocks;
  r.texts.resize(n);
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    runtime::generation_request req;
    req.request_id = fmt::format("r{}", i);
    req.messages = {{"user", fmt::format("Request number {}: tell a story.", i)}};
    req.sampling.temperature = 0;
    req.sampling.max_tokens = max_tokens / 2 + static_cast<int>(i) * max_tokens / 2 / static_cast<int>(n);
    (*c)->generate(std::move(req), {}, [&, i](runtime::result<runtime::generation_result> g) {
      std::lock_guard lock(mutex);
      if (g) {
        r.tokens += g->completion_tokens;
        r.texts[i] = g->text;
      } else {
        ++r.failed;
        fmt::print(stderr, "r{}: {}\n", i, g.error().message);
      }
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return done == n; });
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.stats = (*c)->stats();
  return r;
}

} // namespace

int main(int argc, char** argv) {
  std::string model;
  std::size_t n = 12, threads = 0;
  int tokens = 96;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--requests" && i + 1 < argc) n = std::stoul(argv[++i]);
    else if (a == "--tokens" && i + 1 < argc) tokens = std::stoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::stoul(argv[++i]);
    else if (a == "--json") json = true;
    else model = a;
  }
  if (model.empty()) {
    inference::model_spec spec;
    spec.n_embd = 512;
    spec.n_layer = 4;
    spec.n_head = 8;
    spec.n_head_kv = 4;
    spec.n_ff = 1408;
    spec.n_vocab = 4096;
    spec.n_ctx = 512;
    spec.weight_std = 0.1f;
    spec.weight_type = inference::tensor_type::f16;
    model = (std::filesystem::temp_directory_path() / "troupe-bench-kv-preemption.gguf").string();
    if (auto ok = inference::write_random_model(spec, model); !ok) {
      fmt::print(stderr, "{}\n", ok.error().message);
      return 1;
    }
  }
  auto m = inference::model::load(model);
  if (!m) {
    fmt::print(stderr, "{}\n", m.error().message);
    return 1;
  }
  const auto& hp = (*m)->params();
  const std::size_t block_bytes = hp.n_layer * 2 * block_tokens * hp.kv_dim() * 2;
  // Blocks all requests hold at their longest (prompt ~16 tokens + reply), and fractions of it.
  const std::size_t all_blocks = n * ((16 + static_cast<std::size_t>(tokens) + block_tokens - 1) / block_tokens + 1);
  std::vector<row> rows;
  rows.push_back(run(model, n, tokens, threads, 0, block_bytes, "full budget (peer)"));
  for (const std::size_t denom : {2, 3, 4})
    rows.push_back(run(model, n, tokens, threads, all_blocks / denom, block_bytes, fmt::format("1/{} of the need", denom)));
  const row& peer = rows.front();
  const auto tps = [](const row& r) { return static_cast<double>(r.tokens) / r.wall_s; };
  const auto same = [&peer](const row& r) { return r.texts == peer.texts; };
  if (json) {
    std::string items;
    for (const auto& r : rows)
      items += fmt::format(
          R"({}{{"mode":"{}","budget_blocks":{},"wall_s":{:.4f},"tokens":{},"tok_s":{:.2f},"preemptions":{},)"
          R"("recomputed_tokens":{},"failed":{},"ratio_vs_peer":{:.4f},"outputs_identical":{}}})",
          items.empty() ? "" : ",", r.mode, r.budget_blocks, r.wall_s, r.tokens, tps(r), r.stats.preemptions,
          r.stats.recomputed_tokens, r.failed, tps(r) / tps(peer), same(r));
    fmt::print(R"({{"bench":"kv_preemption","model":"{}","requests":{},"max_tokens":{},"block_tokens":{},)"
               R"("load_average":{:.2f},"rows":[{}]}})"
               "\n",
               model, n, tokens, block_tokens, bench::load_average(), items);
    return 0;
  }
  fmt::print("{} requests of at most {}-{} tokens submitted together; KV blocks of {} tokens; load average {:.2f}\n",
             n, tokens / 2, tokens / 2 + static_cast<int>(n - 1) * tokens / 2 / static_cast<int>(n), block_tokens,
             bench::load_average());
  fmt::print("{:<22} {:>8} {:>8} {:>8} {:>9} {:>8} {:>11} {:>9} {:>10}\n", "mode", "blocks", "wall s", "tokens",
             "tok/s", "preempt", "recomputed", "vs peer", "identical");
  for (const auto& r : rows)
    fmt::print("{:<22} {:>8} {:>8.3f} {:>8} {:>9.1f} {:>8} {:>11} {:>8.2f}x {:>10}\n", r.mode,
               r.budget_blocks == 0 ? std::string{"all"} : std::to_string(r.budget_blocks), r.wall_s, r.tokens,
               tps(r), r.stats.preemptions, r.stats.recomputed_tokens, tps(r) / tps(peer), same(r) ? "yes" : "NO");
  return 0;
}
