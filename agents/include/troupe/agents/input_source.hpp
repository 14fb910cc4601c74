// Where a `human` agent gets its answers: stdin in the CLI, a scripted list in tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"

namespace troupe::agents {

/// A source of human input. `read_line` may block (the human agent calls it off the actor
/// threads); `show` is told about messages the human should see. Thread-safe.
class input_source {
public:
  virtual ~input_source() = default;
  /// Blocks until the human answers `prompt`; `errc::io` at end of input.
  virtual runtime::result<std::string> read_line(std::string_view agent, std::string_view prompt) = 0;
  /// Shows a message addressed to the human (default: nothing).
  virtual void show(std::string_view agent, const runtime::envelope& message) {}
};

/// Reads lines from standard input. `display` (may be empty) is called with the prompt and
/// with messages to show; the library itself prints nothing.
std::shared_ptr<input_source> make_stdin_input(std::function<void(std::string_view text)> display = {});

} // namespace troupe::agents
