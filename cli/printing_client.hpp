// An inference_client decorator for `troupe run`: prints the streamed pieces of the agents it
// is told to show to stdout as they arrive, then passes them on.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <fmt/format.h>
#include <troupe/runtime/inference_client.hpp>

namespace troupe::cli {

/// Prints pieces of `shown` agents' generations (from the engine's threads, under a mutex)
/// and remembers which agents printed something since take_streamed() last asked.
class printing_client final : public runtime::inference_client {
public:
  printing_client(std::shared_ptr<runtime::inference_client> inner, std::set<std::string> shown)
      : inner_(std::move(inner)), shown_(std::move(shown)) {}

  void generate(runtime::generation_request request, runtime::piece_callback on_piece,
                runtime::done_callback on_done) override {
    if (shown_.count(request.agent) != 0) {
      on_piece = [this, agent = request.agent, next = std::move(on_piece)](std::string_view piece) {
        {
          std::lock_guard lock(mutex_);
          fmt::print("{}", piece);
          std::fflush(stdout);
          streamed_.insert(agent);
        }
        if (next) next(piece);
      };
    }
    inner_->generate(std::move(request), std::move(on_piece), std::move(on_done));
  }

  void cancel(std::string_view request_id) override { inner_->cancel(request_id); }

  /// True when `agent` printed pieces since the last call for it (and forgets that).
  bool take_streamed(const std::string& agent) {
    std::lock_guard lock(mutex_);
    return streamed_.erase(agent) != 0;
  }

private:
  std::shared_ptr<runtime::inference_client> inner_;
  std::set<std::string> shown_;
  std::mutex mutex_;
  std::set<std::string> streamed_;  ///< guarded by mutex_
};

} // namespace troupe::cli
