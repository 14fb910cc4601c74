#include "support/temp_dir.hpp"

#include <random>
#include <system_error>

namespace troupe::test {

temp_dir::temp_dir(const std::string& prefix) {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / (prefix + "-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("temp_dir: could not create a scratch directory under " + base.string());
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path source_dir() { return TROUPE_SOURCE_DIR; }
std::filesystem::path binary_dir() { return TROUPE_BINARY_DIR; }

} // namespace troupe::test
