// Collects the outcomes and streamed pieces of generation requests by request id, for tests
// that drive an inference_client from their own thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <troupe/runtime/inference_client.hpp>

namespace troupe::test {

/// Outcomes (every on_done call, so a duplicate shows) and pieces by request id; wait() blocks
/// the test thread until `count` outcomes have arrived.
struct generation_outcomes {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, std::vector<runtime::result<runtime::generation_result>>> by_id;
  std::map<std::string, std::string> pieces;
  std::size_t n = 0;

  runtime::done_callback done(const std::string& id) {
    return [this, id](runtime::result<runtime::generation_result> r) {
      std::lock_guard lock(mutex);
      by_id[id].push_back(std::move(r));
      ++n;
      cv.notify_all();
    };
  }
  runtime::piece_callback piece(const std::string& id) {
    return [this, id](std::string_view p) {
      std::lock_guard lock(mutex);
      pieces[id] += p;
    };
  }
  void wait(std::size_t count) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return n >= count; });
  }
  /// The one outcome of `id` (fails the test if there was none or more than one).
  const runtime::result<runtime::generation_result>& only(const std::string& id) {
    std::lock_guard lock(mutex);
    REQUIRE(by_id[id].size() == 1);
    return by_id[id].front();
  }
};

/// Runs `r` alone on `client` and returns its one outcome.
inline runtime::result<runtime::generation_result> run_alone(runtime::inference_client& client,
                                                             runtime::generation_request r) {
  generation_outcomes out;
  const auto id = r.request_id;
  client.generate(std::move(r), {}, out.done(id));
  out.wait(1);
  return out.only(id);
}

} // namespace troupe::test
