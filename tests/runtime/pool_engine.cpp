// The pool over real local engines (troupe's engine on small random models, greedy): every
// request gets the same text as run alone; killing one inference actor mid-generation moves
// its requests to the other engine, and each still completes exactly once, with the stream
// equal to the text (the retry reproduces the same greedy text, so nothing is streamed twice).
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <troupe/inference/model_gen.hpp>
#include <troupe/runtime/pool.hpp>

#include "support/random_model_file.hpp"

using namespace troupe::runtime;

namespace {

struct model_file : troupe::test::random_model_file {
  model_file() : random_model_file(5) {}
};

struct outcomes {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::string, std::vector<result<generation_result>>> by_id;
  std::map<std::string, std::string> streamed;
  std::size_t done = 0, pieces = 0;

  piece_callback piece(const std::string& id) {
    return [this, id](std::string_view p) {
      std::lock_guard lock(mutex);
      streamed[id] += p;
      ++pieces;
      cv.notify_all();
    };
  }
  done_callback finished(const std::string& id) {
    return [this, id](result<generation_result> r) {
      std::lock_guard lock(mutex);
      by_id[id].push_back(std::move(r));
      ++done;
      cv.notify_all();
    };
  }
  /// Waits (generously) until `pred` holds; false on time-out.
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::minutes(5), [&] { return pred(*this); });
  }
};

generation_request request(const std::string& id, int i) {
  generation_request r;
  r.request_id = id;
  r.agent = id;
  r.messages = {{"system", "You are terse."}, {"user", fmt::format("Question number {} about the sea and ships.", i)}};
  r.sampling.temperature = 0;
  r.sampling.max_tokens = 160;
  return r;
}

pool_options two_engines(const model_file& m) {
  pool_options o;
  o.policy = balance_policy::round_robin;
  o.affinity = false;
  o.elastic.tick_ms = 100;
  for (const char* name : {"a", "b"}) {
    target_options t;
    t.name = name;
    t.capacity = 2;
    t.engine.default_model = m.path;
    t.engine.max_sequences = 2;
    t.engine.n_threads = 1;
    t.engine.prefill_chunk_tokens = 16;
    o.targets.push_back(t);
  }
  return o;
}

} // namespace

TEST_CASE("pool over local engines: killing an actor mid-generation loses and duplicates nothing") {
  model_file m;
  const int n = 8;
  // Reference: each request alone on a one-engine pool.
  std::map<std::string, std::string> alone;
  {
    auto o = two_engines(m);
    o.targets.pop_back();
    auto solo = make_inference_pool(o);
    REQUIRE(solo);
    outcomes out;
    for (int i = 0; i < n; ++i) {
      const auto id = fmt::format("r{}", i);
      (*solo)->generate(request(id, i), {}, out.finished(id));
      REQUIRE(out.wait([](outcomes& x) { return x.done >= 1; }));
      std::lock_guard lock(out.mutex);
      REQUIRE(out.by_id[id].front());
      alone[id] = out.by_id[id].front()->text;
      out.done = 0;
    }
  }
  outcomes out;
  auto pool = make_inference_pool(two_engines(m));
  REQUIRE(pool);
  // Round robin puts r0 and r2 on engine "a": its first piece of r0 kills "a" (mid-generation:
  // 160 tokens to go).
  auto* p = pool->get();
  bool killed = false;
  for (int i = 0; i < n; ++i) {
    const auto id = fmt::format("r{}", i);
    auto piece = out.piece(id);
    if (i == 0)
      piece = [piece, p, &killed](std::string_view text) {
        piece(text);
        if (!killed) killed = p->kill_target("a").has_value();
      };
    p->generate(request(id, i), piece, out.finished(id));
  }
  REQUIRE(out.wait([n](outcomes& x) { return x.done >= static_cast<std::size_t>(n); }));
  std::lock_guard lock(out.mutex);
  for (int i = 0; i < n; ++i) {
    const auto id = fmt::format("r{}", i);
    CAPTURE(id);
    REQUIRE(out.by_id[id].size() == 1);
    REQUIRE(out.by_id[id].front());
    CHECK(out.by_id[id].front()->text == alone[id]);
    CHECK(out.streamed[id] == alone[id]);
  }
  // The stats are published after the step that ran the last done callback: wait for it.
  auto s = (*pool)->stats();
  for (int i = 0; i < 3000 && s.completed < static_cast<std::size_t>(n); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    s = (*pool)->stats();
  }
  CHECK(killed);
  CHECK(s.completed == static_cast<std::size_t>(n));
  CHECK(s.failed == 0);
  CHECK(s.failovers >= 1);
  MESSAGE(fmt::format("failovers: {}; targets now: {}", s.failovers, s.targets.size()));
}
