// Streamed generation pieces on their way to the agent: bounded (at most one relay message per
// generation in the agent's CAF mailbox), in order, nothing lost, `on_done` after the last piece.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"
#include "support/scripted_inference.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

namespace {

/// TEST DOUBLE: streams "0 1 2 ... n-1 " one number per piece from its own thread, then ends.
class threaded_streamer final : public inference_client {
public:
  explicit threaded_streamer(int pieces) : pieces_(pieces) {}
  ~threaded_streamer() override {
    std::lock_guard<std::mutex> guard{mutex_};
    for (auto& t : threads_)
      t.join();
  }
  void generate(generation_request request, piece_callback on_piece, done_callback on_done) override {
    std::lock_guard<std::mutex> guard{mutex_};
    threads_.emplace_back([n = pieces_, request, on_piece, on_done] {
      std::string all;
      for (int i = 0; i < n; ++i) {
        auto piece = std::to_string(i) + " ";
        all += piece;
        if (on_piece)
          on_piece(piece);
      }
      generation_result r;
      r.request_id = request.request_id;
      r.text = all;
      on_done(std::move(r));
    });
  }
  void cancel(std::string_view) override {}

private:
  int pieces_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

} // namespace

TEST_CASE("pieces streamed while the agent is busy reach it as one relay, whole and in order") {
  runtime rt{troupe::test::deterministic_config()};
  rt.set_inference_client(std::make_shared<troupe::test::scripted_inference>(
    std::vector<std::string>{"one two three four five six"}));
  std::vector<std::string> pieces;
  std::vector<std::string> order;
  REQUIRE(rt.spawn(named("writer"), fn_factory([&](agent_context& ctx, const envelope&) {
    generation_request req;
    ctx.generate(
      std::move(req), [&](std::string_view p) { pieces.emplace_back(p); order.push_back("piece"); },
      [&](result<generation_result> r) {
        REQUIRE(r);
        CHECK(r->text == "one two three four five six");
        order.push_back("done");
      });
  })));
  rt.run_pending();
  REQUIRE(rt.send("writer", "go"));
  rt.run_pending();
  // The scripted client streams six pieces synchronously inside generate, while the agent's
  // handler is still running: one relay task carries them all.
  REQUIRE(pieces.size() == 1);
  CHECK(pieces.front() == "one two three four five six");
  CHECK(order == std::vector<std::string>{"piece", "done"});
}

TEST_CASE("pieces from the client's own thread: nothing lost, in order, done last") {
  runtime_config cfg;
  cfg.scheduler_threads = 2;
  constexpr int n = 20'000;
  std::string expected;
  for (int i = 0; i < n; ++i)
    expected += std::to_string(i) + " ";
  std::mutex mutex;
  std::string got;
  std::size_t calls = 0;
  bool piece_after_done = false;
  std::atomic<bool> done{false};
  {
    auto client = std::make_shared<threaded_streamer>(n);
    runtime rt{cfg};
    rt.set_inference_client(client);
    REQUIRE(rt.spawn(named("writer"), fn_factory([&](agent_context& ctx, const envelope&) {
      ctx.generate(
        generation_request{},
        [&](std::string_view p) {
          std::lock_guard<std::mutex> guard{mutex};
          piece_after_done = piece_after_done || done.load();
          got.append(p);
          ++calls;
        },
        [&](result<generation_result> r) {
          REQUIRE(r);
          done.store(true);
        });
    })));
    REQUIRE(rt.send("writer", "go"));
    for (int spin = 0; spin < 5'000'000 && !done.load(); ++spin)
      std::this_thread::yield();
    REQUIRE(done.load());
  }
  CHECK(got == expected);
  CHECK(calls >= 1);
  CHECK(calls <= static_cast<std::size_t>(n));
  CHECK(!piece_after_done);
}

TEST_CASE("an agent that does not stream (no piece callback) still gets the result") {
  runtime rt{troupe::test::deterministic_config()};
  rt.set_inference_client(std::make_shared<troupe::test::scripted_inference>(std::vector<std::string>{"a b c"}));
  std::string text;
  REQUIRE(rt.spawn(named("quiet"), fn_factory([&](agent_context& ctx, const envelope&) {
    ctx.generate(generation_request{}, {}, [&](result<generation_result> r) {
      REQUIRE(r);
      text = r->text;
    });
  })));
  rt.run_pending();
  REQUIRE(rt.send("quiet", "go"));
  CHECK(rt.run_pending() > 0);
  CHECK(text == "a b c");
}
