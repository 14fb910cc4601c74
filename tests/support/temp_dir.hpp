// A scratch directory for one test, removed when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace troupe::test {

/// Creates a fresh directory under the system temp dir; removes it (recursively) on
/// destruction.
class temp_dir {
public:
  explicit temp_dir(const std::string& prefix = "troupe-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  /// path() / name
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

/// The repository root (for configs/ and test data) and the build directory.
[[nodiscard]] std::filesystem::path source_dir();
[[nodiscard]] std::filesystem::path binary_dir();

} // namespace troupe::test
