// troupe — the one public header for embedding the runtime in a C++ application.
//
//   find_package(troupe)  +  target_link_libraries(app PRIVATE troupe::troupe)
//   #include <troupe/troupe.hpp>
#pragma once

#include <string_view>

namespace troupe {

/// The library's version, "MAJOR.MINOR.PATCH".
inline constexpr std::string_view version = "0.1.0";

} // namespace troupe
