// A separate project that finds troupe with find_package and uses its public header.
#include <troupe/troupe.hpp>

#include <cstdio>

int main() {
  std::printf("troupe %.*s\n", static_cast<int>(troupe::version.size()), troupe::version.data());
  return troupe::version.empty() ? 1 : 0;
}
