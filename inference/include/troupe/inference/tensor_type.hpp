// Tensor element types as GGUF numbers them (the ggml type ids), with their block layout.
// Quantized types store weights in blocks: `block_elems` values share one block of
// `block_bytes` bytes (e.g. Q8_0: 32 int8 values + one f16 scale = 34 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe::inference {

/// ggml / GGUF tensor type ids (the numbers are part of the file format).
enum class tensor_type : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
};

/// Block layout of a type.
struct type_traits {
  std::string_view name;     ///< "F32", "Q8_0", ... as llama.cpp prints them
  std::size_t block_elems;   ///< values per block (1 for plain types)
  std::size_t block_bytes;   ///< bytes per block
  bool supported;            ///< troupe can compute with tensors of this type
};

/// The traits of a type id read from a file, or nullopt for an id troupe does not know.
[[nodiscard]] std::optional<type_traits> traits_of(std::uint32_t type_id);

/// The traits of a known type.
[[nodiscard]] const type_traits& traits_of(tensor_type t);

/// Bytes needed for `n_elems` values of type `t` (n_elems must be a multiple of block_elems).
[[nodiscard]] inline std::size_t row_bytes(tensor_type t, std::size_t n_elems) {
  const auto& tr = traits_of(t);
  return n_elems / tr.block_elems * tr.block_bytes;
}

} // namespace troupe::inference
