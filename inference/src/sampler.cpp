#include "troupe/inference/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "splitmix64.hpp"

namespace troupe::inference {

// --- rng ----------------------------------------------------------------------------------

namespace {

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

} // namespace

rng::rng(std::uint64_t seed) {
  for (auto& s : s_) s = detail::splitmix64_next(seed);
}

std::uint64_t rng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float rng::uniform() {
  // 24 random bits -> a float in [0, 1) with every value exactly representable.
  return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
}

// --- sampler ------------------------------------------------------------------------------

sampler::sampler(sampler_params params) : params_(params), rng_(params.seed) {}

void sampler::accept(std::int32_t token) {
  if (params_.repeat_last_n <= 0) return;
  recent_.push_back(token);
  while (recent_.size() > static_cast<std::size_t>(params_.repeat_last_n)) recent_.pop_front();
}

void sampler::reset() {
  recent_.clear();
  rng_ = rng(params_.seed);
}

void sampler::apply_penalties(std::vector<float>& logits) const {
  if (recent_.empty()) return;
  if (params_.repeat_penalty == 1.0f && params_.presence_penalty == 0.0f) return;
  std::unordered_set<std::int32_t> seen(recent_.begin(), recent_.end());
  for (std::int32_t t : seen) {
    if (t < 0 || static_cast<std::size_t>(t) >= logits.size()) continue;
    float& l = logits[static_cast<std::size_t>(t)];
    if (params_.repeat_penalty != 1.0f) l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    l -= params_.presence_penalty;
  }
}

std::vector<sampler::candidate> sampler::candidates(std::span<const float> logits_in) const {
  std::vector<float> logits(logits_in.begin(), logits_in.end());
  apply_penalties(logits);
  std::vector<candidate> out;
  if (logits.empty()) return out;

  if (params_.temperature <= 0.0f) {  // greedy: the first maximum wins ties
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    out.push_back({static_cast<std::int32_t>(best), 1.0f});
    return out;
  }

  // Order by logit, most likely first (only the top k when top-k is on).
  std::vector<std::int32_t> idx(logits.size());
  std::iota(idx.begin(), idx.end(), 0);
  const auto by_logit = [&](std::int32_t a, std::int32_t b) {
    const float la = logits[static_cast<std::size_t>(a)], lb = logits[static_cast<std::size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  std::size_t keep = idx.size();
  if (params_.top_k > 0) keep = std::min(keep, static_cast<std::size_t>(params_.top_k));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(keep), idx.end(), by_logit);
  idx.resize(keep);

  // Softmax of logit / temperature over the kept tokens.
  const float max_l = logits[static_cast<std::size_t>(idx[0])];
  double sum = 0;
  out.reserve(idx.size());
  for (std::int32_t t : idx) {
    const float p = std::exp((logits[static_cast<std::size_t>(t)] - max_l) / params_.temperature);
    out.push_back({t, p});
    sum += p;
  }
  for (auto& c : out) c.p = static_cast<float>(c.p / sum);

  // top-p: the shortest prefix whose mass reaches p.
  if (params_.top_p < 1.0f) {
    double mass = 0;
    std::size_t n = 0;
    while (n < out.size()) {
      mass += out[n++].p;
      if (mass >= params_.top_p) break;
    }
    out.resize(std::max<std::size_t>(n, 1));
  }
  // min-p: relative to the most likely token.
  if (params_.min_p > 0.0f) {
    const float floor_p = params_.min_p * out[0].p;
    std::size_t n = 1;
    while (n < out.size() && out[n].p >= floor_p) ++n;
    out.resize(n);
  }
  double total = 0;
  for (const auto& c : out) total += c.p;
  for (auto& c : out) c.p = static_cast<float>(c.p / total);
  return out;
}

std::int32_t sampler::sample(std::span<const float> logits) {
  const auto cands = candidates(logits);
  if (cands.empty()) return -1;
  if (cands.size() == 1) return cands[0].token;
  const float r = rng_.uniform();
  float acc = 0;
  for (const auto& c : cands) {
    acc += c.p;
    if (r < acc) return c.token;
  }
  return cands.back().token;  // rounding left r >= the summed mass
}

} // namespace troupe::inference
