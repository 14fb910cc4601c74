// A small random-weight model written to a fresh temporary folder, for tests that need a real
// GGUF file on disk (engine clients, pools). Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>

#include <doctest/doctest.h>

#include <troupe/inference/model_gen.hpp>

#include "support/temp_dir.hpp"

namespace troupe::test {

/// The generator's default shape with a 512-token context and weight_std 0.1 (logits spread
/// enough that greedy decoding is not a chain of near-ties).
struct random_model_file {
  temp_dir dir{"troupe-model"};
  std::string path = (dir / "m.gguf").string();
  explicit random_model_file(std::uint64_t seed) {
    inference::model_spec spec;
    spec.n_ctx = 512;
    spec.weight_std = 0.1f;
    spec.seed = seed;
    REQUIRE(inference::write_random_model(spec, path));
  }
};

} // namespace troupe::test
