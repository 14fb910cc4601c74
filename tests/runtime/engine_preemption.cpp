// KV-budget preemption in the engine client: when the running requests need more KV blocks
// than a small budget holds, the newest are preempted and resumed later, and every request
// still gets exactly the text it gets alone (streamed once); a request too big for the budget
// fails at once; a preempted request that is cancelled while it waits ends and frees its place.
//
// Determinism: the requests under test are submitted from the first piece callback of a
// "gate" request. That callback runs on the worker thread inside a step, so every request is
// queued before the next step and the schedule does not depend on thread timing.
#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <troupe/inference/model.hpp>
#include <troupe/runtime/engine_client.hpp>

#include "support/generation_outcomes.hpp"
#include "support/random_model_file.hpp"

using namespace troupe::runtime;

namespace {

constexpr std::size_t block_tokens = 4;

/// Bytes of `blocks` KV blocks (F16, block_tokens positions) of the model at `path`.
std::size_t budget_bytes(const std::string& path, std::size_t blocks) {
  auto m = troupe::inference::model::load(path);
  REQUIRE(m);
  const auto& hp = (*m)->params();
  return blocks * hp.n_layer * 2 * block_tokens * hp.kv_dim() * 2;
}

std::shared_ptr<engine_client> client_for(const std::string& path, std::size_t max_sequences,
                                          std::size_t budget_blocks, bool prefix_cache = true) {
  engine_options o;
  o.default_model = path;
  o.max_sequences = max_sequences;
  o.prefill_chunk_tokens = 16;
  o.n_threads = 2;
  o.kv_block_tokens = block_tokens;
  o.prefix_cache = prefix_cache;
  o.kv_budget_bytes = budget_blocks == 0 ? 0 : budget_bytes(path, budget_blocks);
  auto c = make_engine_client(o);
  REQUIRE(c);
  return *c;
}

generation_request request(std::string id, std::string text, int max_tokens) {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = {{"user", std::move(text)}};
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  return r;
}

using outcomes = troupe::test::generation_outcomes;
using troupe::test::run_alone;

const std::vector<std::string> topics = {
    "the sea", "why the sky is blue, slowly and in detail", "three colours", "engines and batching",
    "a garden in spring with tomatoes, beans and a small pond", "rain", "trains across the mountains at night",
    "bread", "the moon and its phases, for a child", "rivers"};

/// Ten greedy requests of different lengths with a repeat penalty: a resumed request must
/// keep its sampler and so its penalty history (without the generated tokens in it, the
/// outputs here differ). Sampling at a temperature is left out: batching alone changes
/// logits in the last bits, enough to flip a random draw.
std::vector<generation_request> requests() {
  std::vector<generation_request> rs;
  for (std::size_t i = 0; i < topics.size(); ++i) {
    auto r = request(fmt::format("r{}", i), "Tell me about " + topics[i] + ".", static_cast<int>(20 + 4 * i));
    r.sampling.repeat_penalty = 1.3f;
    rs.push_back(std::move(r));
  }
  return rs;
}

} // namespace

TEST_CASE("preemption: many requests under a small KV budget all finish with their solo output and stream it once") {
  troupe::test::random_model_file m(11);
  auto solo_client = client_for(m.path, 1, 0);
  std::vector<generation_result> solo;
  std::size_t largest = 0;  // blocks of the largest request, prompt + reply
  for (auto r : requests()) {
    auto s = run_alone(*solo_client, std::move(r));
    REQUIRE(s);
    REQUIRE(s->completion_tokens > 0);
    largest = std::max(largest, (s->prompt_tokens + s->completion_tokens + block_tokens - 1) / block_tokens);
    solo.push_back(*s);
  }
  CHECK(solo_client->stats().preemptions == 0);

  // Room for about two of the ten at once; all ten run concurrently. Resumed requests
  // compute their tokens again, with (some come back from the cache) or without prefix reuse.
  for (const bool prefix_cache : {true, false}) {
    CAPTURE(prefix_cache);
    auto c = client_for(m.path, topics.size() + 1, 2 * largest, prefix_cache);
    outcomes out;
    bool submitted = false;
    const auto submit_all = [&] {
      if (submitted) return;
      submitted = true;
      for (auto& r : requests()) {
        const auto id = r.request_id;
        c->generate(std::move(r), out.piece(id), out.done(id));
      }
    };
    c->generate(request("gate", "Go.", 4), [&](std::string_view) { submit_all(); },
                [&](result<generation_result> r) {
                  const bool streamed = submitted;
                  submit_all();  // (never wait forever if the gate streamed nothing)
                  CHECK(streamed);
                  out.done("gate")(std::move(r));
                });
    out.wait(topics.size() + 1);
    for (std::size_t i = 0; i < topics.size(); ++i) {
      const auto id = fmt::format("r{}", i);
      CAPTURE(id);
      const auto& r = out.only(id);
      REQUIRE_MESSAGE(r.has_value(), (r ? std::string{} : r.error().message));
      CHECK(r->text == solo[i].text);
      CHECK(r->completion_tokens == solo[i].completion_tokens);
      CHECK(r->finish_reason == solo[i].finish_reason);
      CHECK(out.pieces[id] == r->text);  // every piece streamed once, none lost
    }
    const auto st = c->stats();
    MESSAGE(fmt::format("prefix_cache {}, budget {} blocks: {} preemptions, {} tokens recomputed, {} steps, at most {} sequences per step",
                        prefix_cache, 2 * largest, st.preemptions, st.recomputed_tokens, st.steps, st.max_batch_sequences));
    CHECK(st.preemptions > 0);
    CHECK(st.recomputed_tokens > 0);
    CHECK(st.completed == topics.size() + 1);
    CHECK(st.failed == 0);
    CHECK(st.max_batch_sequences >= 2);
  }
}

TEST_CASE("preemption: a request that cannot fit even alone fails at once; others still run") {
  troupe::test::random_model_file m(12);
  auto c = client_for(m.path, 2, 6);  // 24 positions
  const auto big = run_alone(*c, request("big", "Tell me about the sea and the sky and the rain.", 40));
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code == errc::invalid_argument);
  MESSAGE(big.error().message);
  CHECK(big.error().message.find("KV budget too small") != std::string::npos);
  CHECK(big.error().message.find("raise kv_budget_mb") != std::string::npos);
  CHECK(c->stats().steps == 0);  // refused before any of it was computed
  const auto small = run_alone(*c, request("small", "Hi.", 4));
  REQUIRE_MESSAGE(small.has_value(), (small ? std::string{} : small.error().message));
  CHECK(c->stats().failed == 1);
  CHECK(c->stats().completed == 1);
}

TEST_CASE("preemption: cancelling a preempted request while it waits ends it and frees its place") {
  troupe::test::random_model_file m(13);
  const auto a_req = request("a", "Tell me about the trains across the mountains at night.", 40);
  const auto b_req = request("b", "Tell me about bread.", 40);
  auto solo_client = client_for(m.path, 1, 0);
  const auto a_solo = run_alone(*solo_client, a_req);
  const auto b_solo = run_alone(*solo_client, b_req);
  REQUIRE(a_solo);
  REQUIRE(b_solo);
  REQUIRE(a_solo->completion_tokens >= 20);  // a long reply: b must give way to it
  const auto blocks = [](std::size_t n) { return (n + block_tokens - 1) / block_tokens; };
  // Both prompts fit, a's whole run fits alone, a and b growing together do not.
  const std::size_t budget = blocks(a_solo->prompt_tokens + a_solo->completion_tokens) + 2;
  REQUIRE(budget >= blocks(a_solo->prompt_tokens) + blocks(b_solo->prompt_tokens) + 2);

  auto c = client_for(m.path, 2, budget);
  outcomes out;
  bool b_submitted = false, b_cancelled = false;
  c->generate(a_req,
              [&](std::string_view p) {
                out.piece("a")(p);
                if (!b_submitted) {
                  b_submitted = true;
                  c->generate(b_req, out.piece("b"), out.done("b"));
                } else if (!b_cancelled && c->stats().preemptions > 0) {
                  b_cancelled = true;  // b, the newer one, was preempted in this step and waits
                  c->cancel("b");
                }
              },
              [&](result<generation_result> r) {
                if (!b_submitted) {  // (never wait forever if a streamed nothing)
                  b_submitted = true;
                  c->generate(b_req, out.piece("b"), out.done("b"));
                }
                out.done("a")(std::move(r));
              });
  out.wait(2);
  REQUIRE(b_cancelled);
  const auto& a = out.only("a");
  REQUIRE(a.has_value());
  CHECK(a->text == a_solo->text);
  CHECK(out.pieces["a"] == a->text);
  const auto& b = out.only("b");
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error().code == errc::cancelled);
  CHECK(c->stats().preemptions == 1);
  CHECK(c->stats().recomputed_tokens == 0);  // b ended while waiting: it never ran again
  // Its place is free: the same id runs again and gives its solo output.
  const auto again = run_alone(*c, b_req);
  REQUIRE(again);
  CHECK(again->text == b_solo->text);
}
