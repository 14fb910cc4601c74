// The `pools:` section of a scenario: decoding every key, file:line:col errors, profile
// references, and building the pools (make_scenario_inference) with a test target kind.
#include <doctest/doctest.h>

#include <troupe/runtime/scenario_inference.hpp>
#include <troupe/runtime/scenario_loader.hpp>

#include <chrono>
#include <thread>

#include "support/manual_target.hpp"

using namespace troupe::runtime;

namespace {

const char* base = R"(name: pools
profiles:
  p: {model: m.gguf}
  q: {model: m.gguf, pool: remote}
agents:
  - {name: a, kind: llm, profile: p}
flow: {type: round_robin}
termination: {max_turns: 2}
)";

std::string with_pools(const std::string& pools) { return std::string(base) + pools; }

/// The first diagnostic's "line:col: message" (and the hint after " | ").
std::string first_error(const std::string& text) {
  auto r = load_scenario_text(text, "s.yaml");
  if (r) return "no error";
  const auto& d = r.error().front();
  return std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message + " | " + d.hint;
}

} // namespace

TEST_CASE("every pool key is decoded") {
  auto r = load_scenario_text(with_pools(R"(pools:
  default:
    policy: weighted_p2c
    affinity: false
    queue_capacity: 9
    stall_timeout_ms: 1234
    max_attempts: 5
    failures_before_down: 4
    elastic: {tick_ms: 50, high_utilisation: 0.9, low_utilisation: 0.1, grow_after_ticks: 2, shrink_after_ticks: 7}
    targets:
      - {name: cpu, model: x.gguf, weight: 2.5, min: 1, max: 3, threads: 2, max_sequences: 6,
         prefill_chunk_tokens: 32, queue_capacity: 7, context_tokens: 1024, kv_budget_mb: 512,
         kv_block_tokens: 32, kv_type: f32, prefix_cache: false, capacity: 5, node: n1}
  remote:
    targets:
      - {name: api, kind: openai, url: "http://127.0.0.1:9/v1", model: llama, api_key_env: KEY, weight: 3, count: 2}
)"), "s.yaml");
  REQUIRE(r);
  REQUIRE(r->pools.size() == 2);
  const auto& d = r->pools.at("default");
  CHECK(d.policy == balance_policy::weighted_p2c);
  CHECK_FALSE(d.affinity);
  CHECK(d.queue_capacity == 9);
  CHECK(d.stall_timeout_ms == 1234);
  CHECK(d.max_attempts == 5);
  CHECK(d.failures_before_down == 4);
  CHECK(d.tick_ms == 50);
  CHECK(d.high_utilisation == 0.9);
  CHECK(d.low_utilisation == 0.1);
  CHECK(d.grow_after_ticks == 2);
  CHECK(d.shrink_after_ticks == 7);
  const auto& t = d.targets.at(0);
  CHECK(t.name == "cpu");
  CHECK(t.kind == "local");
  CHECK(t.model == "x.gguf");
  CHECK(t.weight == 2.5);
  CHECK(t.min_count == 1);
  CHECK(t.max_count == 3);
  CHECK(t.threads == 2);
  CHECK(t.max_sequences == 6);
  CHECK(t.prefill_chunk_tokens == 32);
  CHECK(t.queue_capacity == 7);
  CHECK(t.context_tokens == 1024);
  CHECK(t.kv_budget_mb == 512);
  CHECK(t.kv_block_tokens == 32);
  CHECK(t.kv_type == "f32");
  CHECK_FALSE(t.prefix_cache);
  CHECK(t.capacity == 5);
  CHECK(t.node == "n1");
  const auto& api = r->pools.at("remote").targets.at(0);
  CHECK(api.kind == "openai");
  CHECK(api.url == "http://127.0.0.1:9/v1");
  CHECK(api.remote_model == "llama");
  CHECK(api.api_key_env == "KEY");
  CHECK(api.min_count == 2);
  CHECK(api.max_count == 2);
  const auto o = pool_options_for(d, 2048);
  CHECK(o.policy == balance_policy::weighted_p2c);
  CHECK(o.failures_before_down == 4);
  CHECK(o.targets.at(0).engine.default_model == "x.gguf");
  CHECK(o.targets.at(0).engine.context_tokens == 1024);
  CHECK(o.targets.at(0).engine.max_sequences == 6);
  CHECK(o.targets.at(0).engine.kv_budget_bytes == 512u << 20);
  CHECK(o.targets.at(0).engine.kv_block_tokens == 32);
  CHECK(o.targets.at(0).engine.kv_type == "f32");
  CHECK_FALSE(o.targets.at(0).engine.prefix_cache);
  CHECK(o.targets.at(0).capacity == 5);
  CHECK(pool_options_for(r->pools.at("remote"), 2048).targets.at(0).model == "llama");
}

TEST_CASE("pool errors point at the line and column") {
  CHECK(first_error(with_pools("pools:\n  remote:\n    policy: fastest\n    targets: [{name: a, model: m}]\n")) ==
        "11:13: 'policy' in pool 'remote' must be one of round_robin, random, weighted_random, "
        "weighted_least_tokens, weighted_p2c; got 'fastest' | use one of the listed values");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets: []\n")) ==
        "11:14: pool 'remote' has no targets | list at least one, e.g. - {name: cpu, model: m.gguf}");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, model: m, weight: 0}\n")) ==
        "12:37: 'weight' in target #1 of pool 'remote' is out of range: got 0 | allowed: (0, 1000000]");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, model: m, min: 3, max: 2}\n")) ==
        "12:34: target #1 of pool 'remote' has min 3 above max 2 | min must be <= max");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, kind: openai, model: m}\n")) ==
        "12:9: missing required key 'url' in target #1 of pool 'remote' | add 'url: ...'");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, model: m, url: x}\n")) ==
        "12:34: 'url' in target #1 of pool 'remote' applies to kind openai only | remove it, or use kind: openai");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, model: m}\n      - {name: a, model: m}\n")) ==
        "13:16: duplicate target name 'a' in pool 'remote' | the first 'a' is at line 12");
  CHECK(first_error(with_pools("pools:\n  remote:\n    targets:\n      - {name: a, kind: gpu, model: m}\n")) ==
        "12:25: 'kind' in target #1 of pool 'remote' must be one of local, openai; got 'gpu' | use one of the listed values");
}

TEST_CASE("a profile must name a declared pool") {
  CHECK(first_error(base) == "4:28: profile 'q' uses unknown pool 'remote' | no pools are declared; add a 'pools:' section or remove 'pool'");
  CHECK(first_error(with_pools("pools:\n  remot:\n    targets: [{name: a, model: m}]\n")) ==
        "4:28: profile 'q' uses unknown pool 'remote' | did you mean 'remot'?");
}

TEST_CASE("make_scenario_inference routes each profile to its pool") {
  auto s = load_scenario_text(with_pools(R"(pools:
  default:
    policy: round_robin
    targets: [{name: d, kind: openai, url: "http://x", model: m, count: 2}]
  remote:
    targets: [{name: r, kind: openai, url: "http://y", model: m}]
)"), "s.yaml");
  REQUIRE(s);
  troupe::test::manual_farm farm;
  scenario_inference_options o;
  o.factories["openai"] = farm.factory();  // a test double standing in for the HTTP client
  auto inf = make_scenario_inference(*s, o);
  REQUIRE(inf);
  CHECK((*inf)->pools().size() == 2);
  REQUIRE(farm.size() == 3);
  int done = 0;
  auto ask = [&](const std::string& id, const std::string& profile) {
    generation_request r;
    r.request_id = id;
    r.profile = profile;
    (*inf)->generate(r, {}, [&done](result<generation_result>) { ++done; });
  };
  ask("1", "p");   // no pool: `default`
  ask("2", "q");   // remote
  ask("3", "zz");  // unknown profile
  for (int i = 0; i < 200 && (farm.at(0)->calls() + farm.at(1)->calls() + farm.at(2)->calls()) < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the pools run on their own threads
  CHECK(farm.at(0)->calls() + farm.at(1)->calls() == 1);
  CHECK(farm.at(2)->calls() == 1);
  CHECK(done == 1);  // the unknown profile failed at once
  (*inf)->shutdown();
  CHECK(done == 3);
}
