#include "gguf/mapped_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace troupe::inference {

namespace {

/// Closes a file descriptor when it goes out of scope.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

} // namespace

result<std::unique_ptr<mapped_file>> mapped_file::open(const std::filesystem::path& path) {
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0)
    return fail(errc::io, fmt::format("cannot open '{}': {}", path.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    return fail(errc::io, fmt::format("cannot stat '{}': {}", path.string(), std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return fail(errc::io, fmt::format("'{}' is not a regular file", path.string()));
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return std::unique_ptr<mapped_file>(new mapped_file(nullptr, 0));
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (p == MAP_FAILED)
    return fail(errc::io, fmt::format("cannot map '{}': {}", path.string(), std::strerror(errno)));
  return std::unique_ptr<mapped_file>(new mapped_file(static_cast<const std::byte*>(p), size));
}

mapped_file::~mapped_file() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

} // namespace troupe::inference
