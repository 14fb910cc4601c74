// Line input from a file descriptor (stdin in the CLI), cancellable through `read_cancel`.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "troupe/agents/input_source.hpp"

namespace troupe::agents {

using namespace troupe::runtime;

read_cancel::read_cancel() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

read_cancel::~read_cancel() {
  if (fd_ >= 0)
    ::close(fd_);
}

void read_cancel::cancel() {
  if (cancelled_.exchange(true, std::memory_order_acq_rel))
    return;
  if (fd_ >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one); // nonblocking; stays readable
  }
}

namespace {

class fd_input final : public input_source {
public:
  fd_input(int fd, std::function<void(std::string_view)> display)
      : fd_(fd), display_(std::move(display)) {}

  result<std::string> read_line(std::string_view agent, std::string_view prompt) override {
    read_cancel never;
    return read_line_until(agent, prompt, never);
  }

  result<std::string> read_line_until(std::string_view agent, std::string_view prompt,
                                      const read_cancel& cancel) override {
    std::unique_lock<std::mutex> guard{mutex_, std::defer_lock};
    // One prompt at a time on the terminal; a cancelled waiter stops queueing for it.
    while (!guard.try_lock()) {
      if (cancel.cancelled())
        return cancelled(agent);
      ::poll(nullptr, 0, 10);
    }
    if (cancel.cancelled())
      return cancelled(agent);
    if (display_)
      display_(fmt::format("[{}] {}\n> ", agent, prompt));
    while (true) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r')
          line.pop_back();
        return line;
      }
      if (eof_) {
        if (pending_.empty())
          return fail(errc::io, fmt::format("end of input while waiting for human agent '{}'", agent));
        return std::exchange(pending_, {}); // a last line without '\n'
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {cancel.fd(), POLLIN, 0}};
      int n = ::poll(fds, cancel.fd() >= 0 ? 2 : 1, cancel.fd() >= 0 ? -1 : 100);
      if (cancel.cancelled())
        return cancelled(agent);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return fail(errc::io, fmt::format("waiting for input for human agent '{}': {}", agent,
                                          std::strerror(errno)));
      }
      if (n == 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[4096];
      auto got = ::read(fd_, buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN)
          continue;
        return fail(errc::io, fmt::format("reading input for human agent '{}': {}", agent,
                                          std::strerror(errno)));
      }
      if (got == 0)
        eof_ = true;
      else
        pending_.append(buf, static_cast<std::size_t>(got));
    }
  }

  void show(std::string_view agent, const envelope& m) override {
    if (display_ && m.kind != message_kind::request)
      display_(fmt::format("[{} <- {}] {}\n", agent, m.sender, m.content));
  }

private:
  static result<std::string> cancelled(std::string_view agent) {
    return fail(errc::cancelled, fmt::format("input for human agent '{}' cancelled (agent stopped)", agent));
  }

  int fd_;
  std::mutex mutex_; ///< one prompt at a time; guards pending_ and eof_
  std::string pending_; ///< bytes read past the last returned line
  bool eof_ = false;
  std::function<void(std::string_view)> display_;
};

} // namespace

std::shared_ptr<input_source> make_fd_input(int fd, std::function<void(std::string_view)> display) {
  return std::make_shared<fd_input>(fd, std::move(display));
}

std::shared_ptr<input_source> make_stdin_input(std::function<void(std::string_view)> display) {
  return make_fd_input(STDIN_FILENO, std::move(display));
}

} // namespace troupe::agents
