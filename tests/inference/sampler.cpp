#include <doctest/doctest.h>

#include <troupe/inference/sampler.hpp>

#include <cmath>
#include <map>
#include <vector>

using namespace troupe::inference;

namespace {

sampler_params no_filters(float temperature) {
  sampler_params p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

} // namespace

TEST_CASE("greedy picks the largest logit, the first one on ties") {
  sampler s(no_filters(0.0f));
  const std::vector<float> logits{0.1f, 3.0f, -2.0f, 3.0f};
  CHECK(s.sample(logits) == 1);
}

TEST_CASE("the same seed gives the same tokens, another seed other tokens") {
  std::vector<float> logits(100);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7) * 0.3f;
  auto draw = [&](std::uint64_t seed) {
    auto p = no_filters(1.0f);
    p.seed = seed;
    sampler s(p);
    std::vector<std::int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits));
    return out;
  };
  CHECK(draw(42) == draw(42));
  CHECK(draw(42) != draw(43));
}

TEST_CASE("reset replays the same draws") {
  std::vector<float> logits{1.0f, 1.0f, 1.0f, 1.0f};
  sampler s(no_filters(1.0f));
  std::vector<std::int32_t> a, b;
  for (int i = 0; i < 20; ++i) a.push_back(s.sample(logits));
  s.reset();
  for (int i = 0; i < 20; ++i) b.push_back(s.sample(logits));
  CHECK(a == b);
}

TEST_CASE("draws follow the softmax distribution") {
  // p = softmax(log(0.7), log(0.2), log(0.1)) = (0.7, 0.2, 0.1)
  const std::vector<float> logits{std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  sampler s(no_filters(1.0f));
  std::map<std::int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  CHECK(counts[0] / double(n) == doctest::Approx(0.7).epsilon(0.05));
  CHECK(counts[1] / double(n) == doctest::Approx(0.2).epsilon(0.1));
  CHECK(counts[2] / double(n) == doctest::Approx(0.1).epsilon(0.15));
}

TEST_CASE("top-k keeps the k most likely tokens") {
  auto p = no_filters(1.0f);
  p.top_k = 2;
  sampler s(p);
  const std::vector<float> logits{1.0f, 5.0f, 3.0f, 4.0f};
  const auto c = s.candidates(logits);
  REQUIRE(c.size() == 2);
  CHECK(c[0].token == 1);
  CHECK(c[1].token == 3);
  CHECK(c[0].p + c[1].p == doctest::Approx(1.0f));
}

TEST_CASE("top-p keeps the smallest prefix reaching the mass") {
  auto p = no_filters(1.0f);
  p.top_p = 0.8f;
  sampler s(p);
  const std::vector<float> logits{std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.1f)};
  const auto c = s.candidates(logits);
  REQUIRE(c.size() == 3);  // 0.5 + 0.25 < 0.8 <= 0.5 + 0.25 + 0.15
  CHECK(c[2].token == 2);
}

TEST_CASE("min-p drops tokens far below the best") {
  auto p = no_filters(1.0f);
  p.min_p = 0.3f;
  sampler s(p);
  const std::vector<float> logits{std::log(0.5f), std::log(0.2f), std::log(0.14f), std::log(0.16f)};
  const auto c = s.candidates(logits);  // floor = 0.15
  REQUIRE(c.size() == 3);
  CHECK(c[0].token == 0);
  CHECK(c[1].token == 1);
  CHECK(c[2].token == 3);
}

TEST_CASE("temperature sharpens and flattens") {
  const std::vector<float> logits{2.0f, 1.0f};
  auto cold = no_filters(0.5f);
  auto hot = no_filters(2.0f);
  const float p_cold = sampler(cold).candidates(logits)[0].p;
  const float p_hot = sampler(hot).candidates(logits)[0].p;
  CHECK(p_cold == doctest::Approx(1.0 / (1.0 + std::exp(-2.0))));
  CHECK(p_hot == doctest::Approx(1.0 / (1.0 + std::exp(-0.5))));
}

TEST_CASE("repeat penalty divides positive and multiplies negative logits of recent tokens") {
  auto p = no_filters(0.0f);
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 2;
  sampler s(p);
  const std::vector<float> logits{3.0f, 2.0f, -1.0f};
  CHECK(s.sample(logits) == 0);
  s.accept(0);  // 3 -> 1.5: token 1 (2.0) now wins
  CHECK(s.sample(logits) == 1);
  s.accept(1);  // 2 -> 1.0: token 0 (1.5) wins again
  CHECK(s.sample(logits) == 0);
  s.accept(2);  // window of 2 is now {1, 2}: token 0 is no longer penalised
  CHECK(s.sample(logits) == 0);
}

TEST_CASE("presence penalty subtracts from recent tokens") {
  auto p = no_filters(0.0f);
  p.presence_penalty = 1.5f;
  sampler s(p);
  const std::vector<float> logits{3.0f, 2.0f};
  s.accept(0);
  CHECK(s.sample(logits) == 1);  // 3 - 1.5 < 2
}
