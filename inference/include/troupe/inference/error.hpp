// Errors of the inference library: values, never exceptions across the module boundary.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace troupe::inference {

/// What kind of failure; the message says what and where (file, byte offset, field).
enum class errc {
  io,               ///< the file could not be opened, mapped or read
  invalid_file,     ///< the bytes break the format (truncated, bad offset, bad count, ...)
  unsupported,      ///< valid, but not something troupe implements (architecture, type)
  invalid_argument, ///< a caller passed something out of range
  context_full,     ///< a sequence would exceed the model's or the cache's context length
  cancelled,        ///< the caller cancelled the work
};

/// An error with a human-readable message naming what went wrong and where.
struct error {
  errc code;
  std::string message;
};

/// The return type of every fallible inference function.
template <class T>
using result = tl::expected<T, error>;

/// Shorthand for `tl::make_unexpected(error{code, message})`.
inline tl::unexpected<error> fail(errc code, std::string message) {
  return tl::make_unexpected(error{code, std::move(message)});
}

/// A short name for an error code ("invalid_file", ...).
const char* to_string(errc code);

} // namespace troupe::inference
