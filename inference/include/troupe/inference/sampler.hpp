// Picking the next token from a row of logits: penalties, temperature, top-k, top-p, min-p,
// then a draw from the remaining distribution with troupe's own PRNG, so that a seed gives
// the same tokens on every machine and library version.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace troupe::inference {

/// Sampling settings. The defaults follow common chat defaults.
struct sampler_params {
  float temperature = 0.8f;     ///< 0 (or less) means greedy: always the most likely token
  int top_k = 40;               ///< keep the k most likely tokens; 0 disables
  float top_p = 0.95f;          ///< keep the smallest set with probability mass >= p; 1 disables
  float min_p = 0.05f;          ///< drop tokens below min_p * p(most likely); 0 disables
  float repeat_penalty = 1.0f;  ///< divide positive / multiply negative logits of recent tokens
  int repeat_last_n = 64;       ///< how many recent tokens the penalties look at
  float presence_penalty = 0.0f;///< subtracted once from the logit of every recent token
  std::uint64_t seed = 0;       ///< PRNG seed; the same seed gives the same draws
};

/// A small, fast PRNG (xoshiro256**, seeded by splitmix64) that is identical everywhere.
class rng {
public:
  /// Seeds the state from `seed`.
  explicit rng(std::uint64_t seed);
  /// The next 64 random bits.
  std::uint64_t next();
  /// A uniform float in [0, 1).
  float uniform();

private:
  std::uint64_t s_[4];
};

/// Samples tokens from logits and remembers the recent tokens for the penalties.
/// Not thread-safe; one sampler per sequence.
class sampler {
public:
  /// A sampler with the given settings.
  explicit sampler(sampler_params params);

  /// Chooses a token from `logits` (one value per vocabulary entry). Does not record it:
  /// call accept() with the token actually used.
  [[nodiscard]] std::int32_t sample(std::span<const float> logits);

  /// Records a token (prompt or generated) for the repetition penalties.
  void accept(std::int32_t token);

  /// Forgets the recorded tokens and reseeds the PRNG.
  void reset();

  /// The settings.
  [[nodiscard]] const sampler_params& params() const { return params_; }

  /// The candidates left after penalties and filters, most likely first, with their
  /// probabilities (summing to 1); exposed for tests and diagnostics.
  struct candidate {
    std::int32_t token;
    float p;
  };
  [[nodiscard]] std::vector<candidate> candidates(std::span<const float> logits) const;

private:
  void apply_penalties(std::vector<float>& logits) const;

  sampler_params params_;
  rng rng_;
  std::deque<std::int32_t> recent_;  ///< at most repeat_last_n tokens, oldest first
};

} // namespace troupe::inference
