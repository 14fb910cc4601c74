#include "troupe/inference/error.hpp"
#include "troupe/inference/tensor_type.hpp"

#include <array>

namespace troupe::inference {

namespace {

struct entry {
  std::uint32_t id;
  type_traits traits;
};

// Block sizes from the GGUF/ggml format: QK = 32 for the legacy quants, 256 for the k-quants.
constexpr std::array<entry, 20> table{{
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", 32, 18, true}},
    {3, {"Q4_1", 32, 20, false}},
    {6, {"Q5_0", 32, 22, false}},
    {7, {"Q5_1", 32, 24, false}},
    {8, {"Q8_0", 32, 34, true}},
    {9, {"Q8_1", 32, 36, false}},
    {10, {"Q2_K", 256, 84, false}},
    {11, {"Q3_K", 256, 110, false}},
    {12, {"Q4_K", 256, 144, true}},
    {13, {"Q5_K", 256, 176, false}},
    {14, {"Q6_K", 256, 210, true}},
    {15, {"Q8_K", 256, 292, false}},
    {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},
    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},
    {30, {"BF16", 1, 2, true}},
}};

} // namespace

std::optional<type_traits> traits_of(std::uint32_t type_id) {
  for (const auto& e : table)
    if (e.id == type_id) return e.traits;
  return std::nullopt;
}

const type_traits& traits_of(tensor_type t) {
  for (const auto& e : table)
    if (e.id == static_cast<std::uint32_t>(t)) return e.traits;
  // Every enumerator is in the table; reaching here is a bug in this file.
  static const type_traits unknown{"?", 1, 0, false};
  return unknown;
}

const char* to_string(errc code) {
  switch (code) {
    case errc::io: return "io";
    case errc::invalid_file: return "invalid_file";
    case errc::unsupported: return "unsupported";
    case errc::invalid_argument: return "invalid_argument";
    case errc::context_full: return "context_full";
    case errc::cancelled: return "cancelled";
  }
  return "unknown";
}

} // namespace troupe::inference
