// Sessions: a multi-agent conversation through the engine client with prefix reuse (KV blocks
// of earlier turns stay cached) against the same conversation sent as stateless whole-history
// requests (prefix_cache off), measured in the same run.
//
// The conversation: `agents` agents share a system prompt and a transcript; turn k is agent
// k % agents's reply (greedy, reply_tokens at most) to the system prompt plus the transcript so
// far as chat turns (its own messages as "assistant", the others' as "user" named "agent-j: ").
// So an agent's next prompt is its previous prompt + its reply + the others' new messages.
//
// "History" of a turn = the tokens the same agent's session computed before (its previous
// prompt and reply); the table gives the share of those not recomputed, and the share of all
// prompt tokens taken from the cache (which includes the system prompt shared across agents).
//
// Usage: bench_sessions [MODEL.gguf] [--agents N] [--turns N] [--reply-tokens N] [--threads N]
//                       [--block N] [--reps N] [--json]
// Each mode runs --reps times (default 3, alternating) and reports its fastest wall time.
// Without a model it writes a random one (n_embd 512, 8 layers, F16, 4096 context).
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>

using namespace troupe;

namespace {

struct settings {
  std::string model;
  std::size_t agents = 4, turns = 20, threads = 0, block = 16, reps = 3;
  int reply_tokens = 16;
  bool json = false;
};

struct outcome {
  double wall_s = 0;
  runtime::engine_stats stats;
  std::size_t history_tokens = 0;  ///< tokens of the speaking agents' previous prompts and replies
  std::size_t history_hits = 0;    ///< prefix hits on turns that have such a history
  std::size_t reply_tokens = 0;    ///< tokens of the speaking agents' previous replies
  std::size_t reply_hits = 0;      ///< hits past the agent's previous prompt (its reply reused)
  std::vector<std::string> replies;
};

const char* system_prompt =
    "You are one of several planning agents working together on a community garden. The garden "
    "has four raised beds, a compost heap, a rain barrel and a small budget. Each agent answers "
    "in one or two short sentences, builds on what the others said, and never repeats itself.";

runtime::generation_result ask(runtime::engine_client& c, runtime::generation_request r) {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<runtime::result<runtime::generation_result>> out;
  c.generate(std::move(r), {}, [&](runtime::result<runtime::generation_result> g) {
    std::lock_guard lock(mutex);
    out = std::move(g);
    cv.notify_all();
  });
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return out.has_value(); });
  if (!*out) {
    fmt::print(stderr, "generation failed: {}\n", out->error().message);
    std::exit(1);
  }
  return std::move(**out);
}

outcome run(const settings& s, bool prefix_cache) {
  runtime::engine_options o;
  o.default_model = s.model;
  o.max_sequences = 4;
  o.n_threads = s.threads;
  o.kv_block_tokens = s.block;
  o.prefix_cache = prefix_cache;
  auto c = runtime::make_engine_client(o);
  if (!c) {
    fmt::print(stderr, "{}\n", c.error().message);
    std::exit(1);
  }
  struct said {
    std::size_t agent;
    std::string text;
  };
  std::vector<said> transcript;
  std::vector<std::size_t> last_session(s.agents, 0);  // prompt + reply tokens of each agent's last turn
  std::vector<std::size_t> last_prompt(s.agents, 0);   // prompt tokens of each agent's last turn
  outcome r;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < s.turns; ++k) {
    const std::size_t a = k % s.agents;
    runtime::generation_request req;
    req.request_id = fmt::format("turn-{}", k);
    req.messages.push_back({"system", system_prompt});
    req.messages.push_back({"user", "moderator: Let us plan the garden. agent-0 starts."});
    for (const auto& m : transcript) {
      if (m.agent == a) req.messages.push_back({"assistant", m.text});
      else req.messages.push_back({"user", fmt::format("agent-{}: {}", m.agent, m.text)});
    }
    req.sampling.temperature = 0;
    req.sampling.max_tokens = s.reply_tokens;
    const auto before = (*c)->stats();
    auto g = ask(**c, std::move(req));
    const auto after = (*c)->stats();
    if (last_session[a] != 0) {
      const std::size_t hit = after.prefix_hit_tokens - before.prefix_hit_tokens;
      r.history_tokens += last_session[a];
      r.history_hits += hit;
      r.reply_tokens += last_session[a] - last_prompt[a];
      r.reply_hits += hit > last_prompt[a] ? hit - last_prompt[a] : 0;
    }
    last_session[a] = g.prompt_tokens + g.completion_tokens;
    last_prompt[a] = g.prompt_tokens;
    transcript.push_back({a, g.text});
    r.replies.push_back(std::move(g.text));
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.stats = (*c)->stats();
  return r;
}

} // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--agents" && i + 1 < argc) s.agents = std::stoul(argv[++i]);
    else if (a == "--turns" && i + 1 < argc) s.turns = std::stoul(argv[++i]);
    else if (a == "--reply-tokens" && i + 1 < argc) s.reply_tokens = std::stoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) s.threads = std::stoul(argv[++i]);
    else if (a == "--block" && i + 1 < argc) s.block = std::stoul(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) s.reps = std::stoul(argv[++i]);
    else if (a == "--json") s.json = true;
    else s.model = a;
  }
  if (s.agents == 0 || s.turns == 0 || s.reps == 0) return 1;
  if (s.model.empty()) {
    inference::model_spec spec;
    spec.n_embd = 512;
    spec.n_layer = 8;
    spec.n_head = 8;
    spec.n_head_kv = 4;
    spec.n_ff = 1408;
    spec.n_vocab = 4096;
    spec.n_ctx = 4096;
    spec.weight_type = inference::tensor_type::f16;
    s.model = (std::filesystem::temp_directory_path() / "troupe-bench-sessions.gguf").string();
    if (auto ok = inference::write_random_model(spec, s.model); !ok) {
      fmt::print(stderr, "{}\n", ok.error().message);
      return 1;
    }
  }
  // The two modes alternate, `reps` times each; each keeps its fastest run (the machine is
  // shared: the minimum is the least disturbed). Counters are the same in every run.
  outcome stateless, sessions;
  for (std::size_t rep = 0; rep < s.reps; ++rep) {
    auto a = run(s, false);
    if (rep == 0 || a.wall_s < stateless.wall_s) stateless = std::move(a);
    auto b = run(s, true);
    if (rep == 0 || b.wall_s < sessions.wall_s) sessions = std::move(b);
  }
  const bool same = stateless.replies == sessions.replies;
  const double history_share =
      sessions.history_tokens ? static_cast<double>(sessions.history_hits) / static_cast<double>(sessions.history_tokens) : 0;
  const auto prompt_share = [](const outcome& o) {
    return o.stats.prompt_tokens ? static_cast<double>(o.stats.prefix_hit_tokens) / static_cast<double>(o.stats.prompt_tokens) : 0;
  };
  const double speedup = stateless.wall_s / sessions.wall_s;
  if (s.json) {
    const auto mode = [&](const char* name, const outcome& o) {
      return fmt::format(
          R"({{"mode":"{}","wall_s":{:.4f},"prompt_tokens":{},"prefix_hit_tokens":{},"prompt_tokens_computed":{},)"
          R"("completion_turns":{},"kv_evictions":{},"history_tokens":{},"history_hit_tokens":{},"reply_tokens":{},)"
          R"("reply_hit_tokens":{}}})",
          name, o.wall_s, o.stats.prompt_tokens, o.stats.prefix_hit_tokens, o.stats.prompt_tokens_computed,
          o.stats.completed, o.stats.kv_evictions, o.history_tokens, o.history_hits, o.reply_tokens, o.reply_hits);
    };
    fmt::print(R"({{"bench":"sessions","model":"{}","agents":{},"turns":{},"reply_tokens":{},"block_tokens":{},"reps":{},)"
               R"("modes":[{},{}],"history_share_reused":{:.4f},"prompt_share_reused":{:.4f},"speedup":{:.3f},)"
               R"("outputs_identical":{}}})"
               "\n",
               s.model, s.agents, s.turns, s.reply_tokens, s.block, s.reps, mode("stateless", stateless),
               mode("sessions", sessions), history_share, prompt_share(sessions), speedup, same);
    return 0;
  }
  fmt::print("{} agents, {} turns, replies of at most {} tokens, KV blocks of {} tokens; model {}; best of {}\n",
             s.agents, s.turns, s.reply_tokens, s.block, s.model, s.reps);
  fmt::print("{:<28} {:>9} {:>13} {:>10} {:>10} {:>10}\n", "mode", "wall s", "prompt tokens", "reused",
             "computed", "evictions");
  for (const auto& [name, o] : {std::pair{"stateless (whole history)", &stateless}, std::pair{"sessions (prefix reuse)", &sessions}})
    fmt::print("{:<28} {:>9.3f} {:>13} {:>10} {:>10} {:>10}\n", name, o->wall_s, o->stats.prompt_tokens,
               o->stats.prefix_hit_tokens, o->stats.prompt_tokens_computed, o->stats.kv_evictions);
  fmt::print("history tokens not recomputed: {:.1f}% ({} of {}; goal >= 90%)\n", 100 * history_share,
             sessions.history_hits, sessions.history_tokens);
  fmt::print("prompt tokens taken from the cache: {:.1f}%\n", 100 * prompt_share(sessions));
  fmt::print("of the agents' own previous replies ({} tokens), reused past the previous prompt: {} tokens\n"
             "  (the next prompt re-tokenizes a reply through the chat template, so blocks holding the\n"
             "  prompt/reply boundary or differently tokenized text are recomputed)\n",
             sessions.reply_tokens, sessions.reply_hits);
  fmt::print("sessions vs stateless: {:.2f}x faster (goal >= 2x); greedy replies identical: {}\n", speedup,
             same ? "yes" : "no");
}
