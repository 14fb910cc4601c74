// Fresh anonymous memory whose pages show whether anything has read them: a page of a new
// private anonymous mapping is not resident (mincore) until first touched, and a read maps
// it. Lets a test see that a thread read some memory, without timing anything.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace troupe::test {

class fresh_pages {
 public:
  explicit fresh_pages(std::size_t pages) : bytes_(pages * page_size()) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("fresh_pages: mmap failed");
    (void)madvise(p, bytes_, MADV_NOHUGEPAGE);  // one page per fault, so counts are exact
    data_ = static_cast<std::byte*>(p);
  }
  ~fresh_pages() { munmap(data_, bytes_); }
  fresh_pages(const fresh_pages&) = delete;
  fresh_pages& operator=(const fresh_pages&) = delete;

  [[nodiscard]] std::byte* data() const { return data_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  static std::size_t page_size() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

  /// Pages of [first, first + count) that are resident (have been touched).
  [[nodiscard]] std::size_t resident(std::size_t first = 0, std::size_t count = static_cast<std::size_t>(-1)) const {
    const std::size_t pages = bytes_ / page_size();
    if (first >= pages) return 0;
    count = std::min(count, pages - first);
    std::vector<unsigned char> v(count);
    if (mincore(data_ + first * page_size(), count * page_size(), v.data()) != 0) return 0;
    std::size_t n = 0;
    for (unsigned char c : v) n += c & 1u;
    return n;
  }

 private:
  std::byte* data_ = nullptr;
  std::size_t bytes_;
};

} // namespace troupe::test
