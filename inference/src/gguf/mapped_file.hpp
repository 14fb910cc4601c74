// A read-only memory mapping of a whole file, or a private copy of it in anonymous memory with
// transparent huge pages (private to the GGUF reader).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include "troupe/inference/error.hpp"

namespace troupe::inference {

/// Owns the bytes of one file: a read-only, private mapping of it, or a copy read into
/// anonymous memory; unmaps on destruction. An empty file gives size 0 and a null pointer.
class mapped_file {
public:
  /// Opens and maps `path`. Errors: io, naming the path and the failing call.
  static result<std::unique_ptr<mapped_file>> open(const std::filesystem::path& path);

  /// Reads `path` into anonymous memory aligned to 2 MiB with transparent huge pages
  /// requested, so that streaming it touches one TLB entry per 2 MiB whatever page sizes the
  /// page cache holds the file in. Falls back to open() where the kernel has transparent huge
  /// pages off or the memory cannot be mapped. Errors: io, as open().
  static result<std::unique_ptr<mapped_file>> read_into_huge_pages(const std::filesystem::path& path);

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file();

  [[nodiscard]] const std::byte* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  /// For a mapping of the file: drops the whole pages inside [p, p + n) from this process's
  /// resident memory (read again from the page cache if touched later; the bytes never change,
  /// since the mapping is read-only). For an anonymous copy: nothing (its pages are the only copy).
  void drop_pages(const std::byte* p, std::size_t n) const;

private:
  mapped_file(const std::byte* data, std::size_t size, void* map, std::size_t map_bytes, bool file_backed)
      : data_(data), size_(size), map_(map), map_bytes_(map_bytes), file_backed_(file_backed) {}
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  void* map_ = nullptr;        ///< the mapping to unmap (contains data_)
  std::size_t map_bytes_ = 0;  ///< its length
  bool file_backed_ = true;    ///< a mapping of the file (false: an anonymous copy)
};

} // namespace troupe::inference
