// A batch of greedy requests sent at once to any inference client, waited for together: the
// workload shared by the engine-client and HTTP-target benchmarks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

#include <troupe/runtime/inference_client.hpp>

namespace bench {

/// What one batch of requests produced.
struct story_run {
  std::size_t tokens = 0;  ///< completion tokens over all successful requests
  std::size_t pieces = 0;  ///< streamed pieces received
  std::size_t failed = 0;  ///< requests that ended with an error
  double wall_s = 0;       ///< from the first generate() to the last outcome
};

/// Sends `n` greedy requests of at most `max_tokens` tokens ("Request number i: tell a
/// story.") without waiting between them, then blocks until every one has ended.
inline story_run run_story_requests(troupe::runtime::inference_client& client, std::size_t n,
                                    int max_tokens) {
  namespace rt = troupe::runtime;
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t done = 0;
  story_run r;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) {
    rt::generation_request req;
    req.request_id = fmt::format("r{}", i);
    req.messages = {{"user", fmt::format("Request number {}: tell a story.", i)}};
    req.sampling.temperature = 0;
    req.sampling.max_tokens = max_tokens;
    client.generate(
        std::move(req),
        [&](std::string_view) {
          std::lock_guard lock(mutex);
          ++r.pieces;
        },
        [&](rt::result<rt::generation_result> g) {
          std::lock_guard lock(mutex);
          if (g) r.tokens += g->completion_tokens;
          else ++r.failed;
          ++done;
          cv.notify_all();
        });
  }
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return done == n; });
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

} // namespace bench
