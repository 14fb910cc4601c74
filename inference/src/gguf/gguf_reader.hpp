// A bounds-checked little-endian reader over the bytes of a GGUF file (private).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "troupe/inference/error.hpp"

namespace troupe::inference {

/// Reads values at an advancing position; every read checks the bytes are there first and
/// reports "<what> at offset N needs K bytes, file ends at S" otherwise.
class byte_reader {
public:
  byte_reader(const std::byte* data, std::size_t size) : data_(data), size_(size) {}

  [[nodiscard]] std::size_t pos() const { return pos_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t remaining() const { return size_ - pos_; }

  /// An error for a read of `need` bytes at the current position that runs past the end.
  [[nodiscard]] tl::unexpected<error> truncated(std::string_view what, std::uint64_t need) const {
    return fail(errc::invalid_file,
                fmt::format("gguf: truncated file: {} at offset {} needs {} bytes, file ends at {}",
                            what, pos_, need, size_));
  }

  /// Reads one trivially copyable little-endian value.
  template <class T>
  result<T> read(std::string_view what) {
    if (remaining() < sizeof(T)) return truncated(what, sizeof(T));
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  /// Reads a GGUF string (u64 length + bytes) as a view into the data.
  result<std::string_view> read_string(std::string_view what) {
    const std::size_t at = pos_;
    auto len = read<std::uint64_t>(what);
    if (!len) return tl::make_unexpected(len.error());
    if (*len > remaining()) {
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} at offset {} has length {} but only {} bytes remain "
                              "(file size {})",
                              what, at, *len, remaining(), size_));
    }
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(*len));
    pos_ += static_cast<std::size_t>(*len);
    return s;
  }

private:
  const std::byte* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

} // namespace troupe::inference
