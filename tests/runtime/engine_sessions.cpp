// Sessions on the engine client: KV blocks of finished requests stay cached, so the next turn
// of a conversation (previous prompt + reply + new message) and requests sharing a system
// prompt compute only what is new; outputs are the same with and without reuse.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/engine_client.hpp>

#include "support/random_model_file.hpp"

using namespace troupe::runtime;

namespace {

struct model_file : troupe::test::random_model_file {
  model_file() : random_model_file(5) {}
};

std::shared_ptr<engine_client> client_for(const model_file& m, bool prefix_cache, std::size_t max_sequences = 1) {
  engine_options o;
  o.default_model = m.path;
  o.max_sequences = max_sequences;
  o.prefill_chunk_tokens = 16;
  o.n_threads = 2;
  o.kv_block_tokens = 4;
  o.prefix_cache = prefix_cache;
  auto c = make_engine_client(o);
  REQUIRE(c);
  return *c;
}

generation_request request(std::string id, std::vector<chat_message> messages, int max_tokens = 12) {
  generation_request r;
  r.request_id = std::move(id);
  r.messages = std::move(messages);
  r.sampling.temperature = 0;
  r.sampling.max_tokens = max_tokens;
  return r;
}

/// Runs requests concurrently on `c`; results in the order given.
std::vector<generation_result> run_all(engine_client& c, std::vector<generation_request> rs) {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<result<generation_result>>> out(rs.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < rs.size(); ++i)
    c.generate(std::move(rs[i]), {}, [&, i](result<generation_result> r) {
      std::lock_guard lock(mutex);
      out[i] = std::move(r);
      ++n;
      cv.notify_all();
    });
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return n == out.size(); });
  std::vector<generation_result> results;
  for (auto& r : out) {
    REQUIRE_MESSAGE(r->has_value(), (*r ? std::string{} : r->error().message));
    results.push_back(std::move(**r));
  }
  return results;
}

const std::string system_prompt =
    "You are one of four agents planning a small garden. Keep every answer short and concrete.";

} // namespace

TEST_CASE("sessions: the second turn of a conversation computes only the new tokens") {
  model_file m;
  auto c = client_for(m, true);
  std::vector<chat_message> conv{{"system", system_prompt}, {"user", "What should we plant first?"}};
  const auto t1 = run_all(*c, {request("t1", conv)}).front();
  const auto s1 = c->stats();
  CHECK(s1.prompt_tokens == t1.prompt_tokens);
  CHECK(s1.prefix_hit_tokens == 0);
  CHECK(s1.prompt_tokens_computed == t1.prompt_tokens);

  conv.push_back({"assistant", t1.text});
  conv.push_back({"user", "And after that?"});
  const auto t2 = run_all(*c, {request("t2", conv)}).front();
  const auto s2 = c->stats();
  const std::size_t hit = s2.prefix_hit_tokens - s1.prefix_hit_tokens;
  const std::size_t computed = s2.prompt_tokens_computed - s1.prompt_tokens_computed;
  MESSAGE("turn 1: " << t1.prompt_tokens << " prompt tokens; turn 2: " << t2.prompt_tokens << " prompt tokens, "
                     << hit << " reused, " << computed << " computed");
  CHECK(hit + computed == t2.prompt_tokens);
  // At least every full block of the first prompt is reused (blocks of 4); the reply's blocks
  // may add more where its re-tokenized text gives the same tokens.
  CHECK(hit >= t1.prompt_tokens / 4 * 4);
  CHECK(computed <= t2.prompt_tokens - t1.prompt_tokens + 4);

  // The reply is the one a client without reuse gives.
  auto plain = client_for(m, false);
  const auto again = run_all(*plain, {request("p2", conv)}).front();
  CHECK(again.text == t2.text);
  CHECK(plain->stats().prefix_hit_tokens == 0);
  CHECK(plain->stats().prompt_tokens_computed == again.prompt_tokens);
}

TEST_CASE("sessions: agents sharing a system prompt reuse its blocks; batched output equals unbatched") {
  model_file m;
  std::vector<generation_request> rs;
  for (int i = 0; i < 4; ++i)
    rs.push_back(request(fmt::format("a{}", i),
                         {{"system", system_prompt}, {"user", fmt::format("Agent {} asks: which bed gets sun?", i)}}));
  auto plain = client_for(m, false, 1);
  std::vector<generation_result> alone;
  for (const auto& r : rs) alone.push_back(run_all(*plain, {r}).front());

  auto c = client_for(m, true, 4);
  const auto first = run_all(*c, {rs[0]}).front();  // caches the system prompt
  CHECK(first.text == alone[0].text);
  const auto s1 = c->stats();
  const auto together = run_all(*c, {rs[1], rs[2], rs[3]});
  const auto s2 = c->stats();
  CHECK(s2.max_batch_sequences >= 2);
  for (std::size_t i = 0; i < together.size(); ++i) {
    CAPTURE(i);
    CHECK(together[i].text == alone[i + 1].text);
  }
  // Each of the three reused the blocks of the shared start (the system prompt at least).
  const std::size_t hit = s2.prefix_hit_tokens - s1.prefix_hit_tokens;
  MESSAGE("3 requests, " << (s2.prompt_tokens - s1.prompt_tokens) << " prompt tokens, " << hit << " reused");
  CHECK(hit >= 3 * 16);

  // The same request again reuses all of its prompt but the last partial block.
  const auto s3 = c->stats();
  const auto repeat = run_all(*c, {rs[2]}).front();
  CHECK(repeat.text == alone[2].text);
  CHECK(c->stats().prefix_hit_tokens - s3.prefix_hit_tokens == (repeat.prompt_tokens - 1) / 4 * 4);
}

TEST_CASE("sessions: a tiny KV budget evicts cached blocks and counts it; f32 cache works") {
  model_file m;
  engine_options o;
  o.default_model = m.path;
  o.max_sequences = 1;
  o.context_tokens = 128;
  o.n_threads = 2;
  o.kv_block_tokens = 4;
  o.kv_type = "f32";
  auto c = make_engine_client(o);
  REQUIRE(c);
  for (int i = 0; i < 6; ++i)
    run_all(**c, {request(fmt::format("r{}", i), {{"user", fmt::format("Question number {} about soil and water", i)}}, 20)});
  CHECK((*c)->stats().kv_evictions > 0);  // 32 blocks; six prompts and replies need more
  CHECK((*c)->stats().completed == 6);

  o.kv_type = "q8_0";
  CHECK_FALSE(make_engine_client(o));
}
