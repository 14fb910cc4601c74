// Shared helpers of the engine tests: generated models and logit comparisons.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>

#include <troupe/inference/model.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/temp_dir.hpp"

namespace troupe::test {

/// A small model spec every weight type can use (rows a multiple of 256 for the k-quants).
inline inference::model_spec small_spec(std::string arch, inference::tensor_type type,
                                        bool tied, std::uint64_t seed = 1) {
  inference::model_spec s;
  s.arch = std::move(arch);
  s.n_vocab = 512;
  s.n_embd = 256;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;  // GQA: two query heads per kv head
  s.n_ff = 512;
  s.n_ctx = 256;
  s.tied_output = tied;
  s.weight_type = type;
  s.seed = seed;
  s.weight_std = 0.1f;
  return s;
}

/// False (with a visible warning) when the generator cannot write the spec's weight type yet.
inline bool generator_supports(const inference::model_spec& spec) {
  auto v = inference::validate(spec);
  if (!v && v.error().code == inference::errc::unsupported) {
    WARN_MESSAGE(false, "SKIPPED: " << v.error().message);
    return false;
  }
  return true;
}

/// Writes `spec` to dir/name and loads it.
inline std::shared_ptr<const inference::model> make_model(const temp_dir& dir,
                                                          const inference::model_spec& spec,
                                                          const std::string& name) {
  const auto path = dir / name;
  auto written = inference::write_random_model(spec, path);
  // The message is evaluated even on success under `doctest -s`: never touch error() then.
  REQUIRE_MESSAGE(written.has_value(), (written ? std::string() : written.error().message));
  auto m = inference::model::load(path.string());
  REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
  return *m;
}

/// max |a - b| relative to max |b|.
inline double rel_max_diff(std::span<const float> a, std::span<const float> b) {
  double diff = 0, scale = 1e-12;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

/// Index of the largest value.
inline std::int32_t argmax(std::span<const float> v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

} // namespace troupe::test
