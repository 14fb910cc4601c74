// Reading GGUF model files (versions 2 and 3): metadata key/values and the tensor table,
// with tensor data read in place from a read-only memory mapping.
//
// Layout (little-endian): "GGUF", version u32, tensor_count u64, kv_count u64; kv_count
// key/values (key string, value type u32, value); tensor_count tensor infos (name string,
// n_dims u32, n_dims dims u64 with dims[0] the contiguous row length, type u32, offset u64);
// padding to `general.alignment` (default 32); then the data section, each tensor at
// data_start + offset. A string is a u64 byte length followed by the bytes (no terminator).
//
// Every count, length, type id and offset is checked against the file before it is used; a
// malformed file yields an error naming the field and its byte offset, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

/// Metadata value types as GGUF numbers them (the numbers are part of the file format).
enum class gguf_type : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

/// "u8", "string", "array", ... ("?" for an id outside the format).
[[nodiscard]] const char* to_string(gguf_type t);

class gguf_value;

/// An array value: its element type (kept for empty arrays) and its elements, each of which
/// holds exactly `elem_type`.
struct gguf_array {
  gguf_type elem_type = gguf_type::u8;
  std::vector<gguf_value> items;
};

/// One metadata value: a scalar, a string or an array (of any type, arrays included).
class gguf_value {
public:
  using storage = std::variant<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t,
                               std::uint32_t, std::int32_t, float, bool, std::string,
                               gguf_array, std::uint64_t, std::int64_t, double>;
  template <class T>
  static constexpr bool is_alternative =
      std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int8_t> ||
      std::is_same_v<T, std::uint16_t> || std::is_same_v<T, std::int16_t> ||
      std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::int32_t> ||
      std::is_same_v<T, float> || std::is_same_v<T, bool> || std::is_same_v<T, std::string> ||
      std::is_same_v<T, gguf_array> || std::is_same_v<T, std::uint64_t> ||
      std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>;

  gguf_value() = default;
  /// Holds `v`; the GGUF type follows from the C++ type, which must be one of the
  /// alternatives exactly (std::uint32_t -> u32, std::string -> string, ...), so a literal
  /// `5` does not compile but `std::uint32_t{5}` does.
  template <class T>
    requires is_alternative<std::remove_cvref_t<T>>
  gguf_value(T&& v) : v_(std::forward<T>(v)) {}  // NOLINT: implicit on purpose
  gguf_value(const char* s) : v_(std::string{s}) {}
  gguf_value(std::string_view s) : v_(std::string{s}) {}

  /// The GGUF type of the held value.
  [[nodiscard]] gguf_type type() const { return static_cast<gguf_type>(v_.index()); }
  /// The held value if it is a `T`, else nullptr.
  template <class T>
  [[nodiscard]] const T* get_if() const { return std::get_if<T>(&v_); }
  /// The array, or nullptr when this is not an array.
  [[nodiscard]] const gguf_array* array() const { return std::get_if<gguf_array>(&v_); }
  /// The string, or nullptr when this is not a string.
  [[nodiscard]] const std::string* string() const { return std::get_if<std::string>(&v_); }
  /// Any integer value (bool excluded) widened to int64 when it fits; false otherwise.
  [[nodiscard]] bool as_i64(std::int64_t& out) const;
  /// Any integer value widened to uint64 when non-negative; false otherwise.
  [[nodiscard]] bool as_u64(std::uint64_t& out) const;
  /// The underlying variant (its index equals the GGUF type id).
  [[nodiscard]] const storage& raw() const { return v_; }

private:
  storage v_;
};

/// One metadata entry, in file order.
struct gguf_kv {
  std::string key;
  gguf_value value;
  std::uint64_t offset = 0;  ///< byte offset of the entry (its key) in the file
};

/// One tensor of the file. `data` points into the mapping and lives as long as the file.
struct gguf_tensor {
  std::string name;
  std::vector<std::uint64_t> shape;  ///< ggml order: shape[0] is the contiguous row length
  tensor_type type = tensor_type::f32;
  std::uint64_t offset = 0;          ///< relative to the start of the data section
  const std::byte* data = nullptr;   ///< first byte of the tensor in the mapping
  std::size_t bytes = 0;             ///< size of the data in bytes

  /// The number of values (product of the shape).
  [[nodiscard]] std::uint64_t n_elements() const;
};

class mapped_file;

/// Where the bytes of an opened GGUF file live.
enum class gguf_memory {
  mapped,      ///< a read-only mapping of the file: shares the page cache, in whatever page sizes it holds
  huge_pages,  ///< read once into private anonymous memory with transparent huge pages (falls back to mapped)
};

/// An open GGUF file: parsed metadata and tensor table over a read-only mapping of the whole
/// file (the mapping is owned and unmapped on destruction). Movable, not copyable.
class gguf_file {
public:
  /// Maps (or, with gguf_memory::huge_pages, reads) and parses `path`. Errors: io (cannot
  /// open/map/read), invalid_file (format broken, message names field and byte offset),
  /// unsupported (version other than 2 or 3).
  static result<gguf_file> open(const std::filesystem::path& path, gguf_memory memory = gguf_memory::mapped);

  gguf_file(gguf_file&&) noexcept;
  gguf_file& operator=(gguf_file&&) noexcept;
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;
  ~gguf_file();

  /// The format version (2 or 3).
  [[nodiscard]] std::uint32_t version() const { return version_; }
  /// Alignment of the data section and of each tensor's offset, in bytes.
  [[nodiscard]] std::size_t alignment() const { return alignment_; }
  /// Byte offset of the data section in the file.
  [[nodiscard]] std::uint64_t data_offset() const { return data_offset_; }
  /// Size of the file in bytes.
  [[nodiscard]] std::uint64_t file_bytes() const;
  /// A hint that the `n` bytes at `p` (inside this file's data) will rarely be read again:
  /// with gguf_memory::mapped their pages leave the process's resident memory (they are read
  /// again from the page cache if touched); with a private copy nothing happens.
  void release_resident(const void* p, std::size_t n) const;
  /// The path the file was opened from.
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  /// Every key/value in file order.
  [[nodiscard]] const std::vector<gguf_kv>& metadata() const { return kvs_; }
  /// The value of `key`, or nullptr when the file has no such key.
  [[nodiscard]] const gguf_value* find(std::string_view key) const;

  /// Typed getters. Integers accept any integer type whose value fits; floats accept f32
  /// and f64. Errors (invalid_file): "gguf: key 'K' missing", "gguf: key 'K' has type
  /// string, expected u32", "gguf: key 'K' value -1 does not fit u32".
  [[nodiscard]] result<std::string_view> get_string(std::string_view key) const;
  [[nodiscard]] result<std::uint32_t> get_u32(std::string_view key) const;
  [[nodiscard]] result<std::uint64_t> get_u64(std::string_view key) const;
  [[nodiscard]] result<std::int32_t> get_i32(std::string_view key) const;
  [[nodiscard]] result<float> get_f32(std::string_view key) const;
  [[nodiscard]] result<bool> get_bool(std::string_view key) const;
  /// The array under `key` (any element type).
  [[nodiscard]] result<const gguf_array*> get_array(std::string_view key) const;
  /// An array of strings; the views live as long as this gguf_file.
  [[nodiscard]] result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  /// An array of f32 or f64 values, as floats.
  [[nodiscard]] result<std::vector<float>> get_f32_array(std::string_view key) const;
  /// An array of integers (any integer element type whose values fit in i32).
  [[nodiscard]] result<std::vector<std::int32_t>> get_i32_array(std::string_view key) const;

  /// Every tensor in file order.
  [[nodiscard]] const std::vector<gguf_tensor>& tensors() const { return tensors_; }
  /// The tensor named `name`, or nullptr.
  [[nodiscard]] const gguf_tensor* find_tensor(std::string_view name) const;

private:
  gguf_file() = default;
  friend struct gguf_parser;

  std::filesystem::path path_;
  std::unique_ptr<mapped_file> map_;
  std::uint32_t version_ = 0;
  std::size_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<gguf_kv> kvs_;
  std::vector<gguf_tensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> kv_index_;      // key -> index in kvs_
  std::map<std::string, std::size_t, std::less<>> tensor_index_;  // name -> index in tensors_
};

} // namespace troupe::inference
