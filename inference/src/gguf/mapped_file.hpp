// A read-only memory mapping of a whole file (private to the GGUF reader).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include "troupe/inference/error.hpp"

namespace troupe::inference {

/// Owns one read-only, private mapping of a file; unmaps on destruction. An empty file maps
/// to size 0 and a null pointer.
class mapped_file {
public:
  /// Opens and maps `path`. Errors: io, naming the path and the failing call.
  static result<std::unique_ptr<mapped_file>> open(const std::filesystem::path& path);

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file();

  [[nodiscard]] const std::byte* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }

private:
  mapped_file(const std::byte* data, std::size_t size) : data_(data), size_(size) {}
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace troupe::inference
