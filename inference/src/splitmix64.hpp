// splitmix64 (private): the one 64-bit mixing function behind the model generator's stream,
// the sampler's seeding and the KV cache's block hashes. Fixed constants, so every platform
// produces the same numbers for a seed.
#pragma once

#include <cstdint>

namespace troupe::inference::detail {

/// The splitmix64 finaliser: a bijective, well-mixed scramble of x.
inline std::uint64_t splitmix64_mix(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Advances `state` by the golden-ratio step and returns the mixed value (the generator).
inline std::uint64_t splitmix64_next(std::uint64_t& state) {
  return splitmix64_mix(state += 0x9e3779b97f4a7c15ull);
}

} // namespace troupe::inference::detail
