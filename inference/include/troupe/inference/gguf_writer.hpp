// Writing GGUF files (version 3): metadata of any type and tensors, written atomically
// (to a temporary file in the same directory, then renamed over the target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/gguf.hpp"
#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

/// Collects metadata and tensors, then writes one GGUF v3 file. Tensor data can be given up
/// front or produced at write time by a callback, so a large model never has to sit in memory
/// whole (peak memory: one tensor).
class gguf_writer {
public:
  /// Fills exactly `out.size()` bytes of one tensor's data; an error aborts the write.
  using producer = std::function<result<void>(std::span<std::byte> out)>;

  /// `alignment` (a power of two) of the data section; a value other than 32 is also
  /// recorded as `general.alignment`.
  explicit gguf_writer(std::uint32_t alignment = 32);

  /// Sets `key` to `value`; a key set twice keeps its first position and the last value.
  void set(const std::string& key, gguf_value value);
  /// Shorthands for arrays.
  void set_string_array(const std::string& key, const std::vector<std::string>& values);
  void set_f32_array(const std::string& key, const std::vector<float>& values);
  void set_i32_array(const std::string& key, const std::vector<std::int32_t>& values);

  /// Adds a tensor whose data is `data` (copied). Errors (invalid_argument): empty, long
  /// (> 63 bytes) or duplicate name, 0 or more than 4 dims, a zero dim, a row length that is
  /// not a multiple of the type's block size, or a data size that does not match the shape.
  result<void> add_tensor(const std::string& name, std::vector<std::uint64_t> shape,
                          tensor_type type, std::span<const std::byte> data);
  /// Adds a tensor whose data `fill` produces while the file is written.
  result<void> add_tensor(const std::string& name, std::vector<std::uint64_t> shape,
                          tensor_type type, producer fill);

  /// Writes the file. Errors: io (cannot create, write or rename), invalid_argument (an array
  /// whose items do not all have its element type), or what a producer returned. On error
  /// the target is left untouched and the temporary file removed.
  result<void> write(const std::filesystem::path& path) const;

private:
  struct tensor_entry {
    std::string name;
    std::vector<std::uint64_t> shape;
    tensor_type type;
    std::size_t bytes;
    producer fill;
  };
  result<std::size_t> check_tensor(const std::string& name, const std::vector<std::uint64_t>& shape,
                                   tensor_type type) const;

  std::uint32_t alignment_;
  std::vector<gguf_kv> kvs_;
  std::vector<tensor_entry> tensors_;
};

} // namespace troupe::inference
