// Where a `human` agent gets its answers: stdin in the CLI, a scripted list in tests.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "troupe/runtime/envelope.hpp"
#include "troupe/runtime/error.hpp"

namespace troupe::agents {

/// Lets a reader blocked in `input_source::read_line_until` give up: `cancel()` (any thread)
/// makes it return `errc::cancelled` promptly. A human agent cancels its reads when it stops,
/// so a runtime shuts down without waiting for a line that may never come. Not copyable.
class read_cancel {
public:
  /// Creates the wake-up descriptor (an eventfd).
  read_cancel();
  ~read_cancel();
  read_cancel(const read_cancel&) = delete;
  read_cancel& operator=(const read_cancel&) = delete;
  /// Fires the cancellation (idempotent).
  void cancel();
  /// True once `cancel` was called.
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  /// A descriptor that becomes readable once cancelled (for poll()); -1 if none could be made,
  /// in which case readers poll `cancelled()` every 100 ms instead.
  int fd() const { return fd_; }

private:
  std::atomic<bool> cancelled_{false};
  int fd_ = -1;
};

/// A source of human input. `read_line` may block (the human agent calls it off the actor
/// threads); `show` is told about messages the human should see. Thread-safe.
class input_source {
public:
  virtual ~input_source() = default;
  /// Blocks until the human answers `prompt`; `errc::io` at end of input.
  virtual runtime::result<std::string> read_line(std::string_view agent, std::string_view prompt) = 0;
  /// Like `read_line`, but returns `errc::cancelled` soon after `cancel` fires. The default
  /// ignores `cancel` (right for sources that never block long, like scripted answers).
  virtual runtime::result<std::string> read_line_until(std::string_view agent, std::string_view prompt,
                                                       const read_cancel& cancel) {
    return read_line(agent, prompt);
  }
  /// Shows a message addressed to the human (default: nothing).
  virtual void show(std::string_view agent, const runtime::envelope& message) {}
};

/// Reads lines from standard input. `display` (may be empty) is called with the prompt and
/// with messages to show; the library itself prints nothing.
std::shared_ptr<input_source> make_stdin_input(std::function<void(std::string_view text)> display = {});

/// Reads lines from the file descriptor `fd` (not owned: the caller keeps it open for the
/// source's lifetime), waiting with poll() so that a read can be cancelled.
std::shared_ptr<input_source> make_fd_input(int fd, std::function<void(std::string_view text)> display = {});

} // namespace troupe::agents
