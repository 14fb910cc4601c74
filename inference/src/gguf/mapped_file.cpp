#include "gguf/mapped_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

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

constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// False when the kernel's transparent huge pages are off ("[never]") or not built in; then an
/// anonymous copy would gain nothing over the mapping.
bool transparent_huge_pages_on() {
  char buf[128] = {};
  const int fd = ::open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ::ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 && std::strstr(buf, "[never]") == nullptr;
}

/// Opens `path` read-only and checks it is a regular file: its descriptor and size.
result<std::pair<int, std::size_t>> open_regular(const std::filesystem::path& path) {
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0)
    return fail(errc::io, fmt::format("cannot open '{}': {}", path.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    return fail(errc::io, fmt::format("cannot stat '{}': {}", path.string(), std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    return fail(errc::io, fmt::format("'{}' is not a regular file", path.string()));
  const int raw = fd.fd;
  fd.fd = -1;  // handed to the caller
  return std::pair<int, std::size_t>{raw, static_cast<std::size_t>(st.st_size)};
}

} // namespace

result<std::unique_ptr<mapped_file>> mapped_file::open(const std::filesystem::path& path) {
  auto opened = open_regular(path);
  if (!opened) return tl::make_unexpected(opened.error());
  const fd_guard fd{opened->first};
  const std::size_t size = opened->second;
  if (size == 0) return std::unique_ptr<mapped_file>(new mapped_file(nullptr, 0, nullptr, 0, true));
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (p == MAP_FAILED)
    return fail(errc::io, fmt::format("cannot map '{}': {}", path.string(), std::strerror(errno)));
  // Pages read in from now on come in 2 MiB folios where the file system can (a hint).
  (void)::madvise(p, size, MADV_HUGEPAGE);
  return std::unique_ptr<mapped_file>(new mapped_file(static_cast<const std::byte*>(p), size, p, size, true));
}

result<std::unique_ptr<mapped_file>> mapped_file::read_into_huge_pages(const std::filesystem::path& path) {
  if (!transparent_huge_pages_on()) return open(path);
  auto opened = open_regular(path);
  if (!opened) return tl::make_unexpected(opened.error());
  const fd_guard fd{opened->first};
  const std::size_t size = opened->second;
  if (size == 0) return std::unique_ptr<mapped_file>(new mapped_file(nullptr, 0, nullptr, 0, true));
  // Over-allocate by 2 MiB and start on the first 2 MiB boundary inside.
  const std::size_t bytes = (size + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes + huge_page_bytes;
  void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return open(path);
  auto* data = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(map) + huge_page_bytes - 1) /
                                            huge_page_bytes * huge_page_bytes);
  (void)::madvise(data, bytes - huge_page_bytes, MADV_HUGEPAGE);
  for (std::size_t done = 0; done < size;) {
    const ::ssize_t n = ::pread(fd.fd, data + done, std::min<std::size_t>(size - done, std::size_t{64} << 20),
                                static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::munmap(map, bytes);
      return fail(errc::io, fmt::format("cannot read '{}' at byte {}: {}", path.string(), done, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  (void)::mprotect(map, bytes, PROT_READ);  // read-only from here, like the mapping
  return std::unique_ptr<mapped_file>(new mapped_file(data, size, map, bytes, false));
}

void mapped_file::drop_pages(const std::byte* p, std::size_t n) const {
  if (!file_backed_ || p == nullptr || n == 0 || p < data_ || p + n > data_ + size_) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) / page * page;
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

mapped_file::~mapped_file() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

} // namespace troupe::inference
