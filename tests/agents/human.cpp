// The human agent kind with a scripted input source (test double).
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include <troupe/agents/kinds.hpp>
#include <troupe/runtime/runtime.hpp>

#include "support/scripted_inference.hpp"

using namespace troupe::runtime;

TEST_CASE("a human answers requests from its input source and sees messages") {
  runtime_config cfg;
  cfg.deterministic = true;
  runtime rt{cfg};
  auto input = std::make_shared<troupe::test::scripted_input>(std::vector<std::string>{"yes", "no"});
  troupe::agents::register_builtin_kinds(rt.kinds(), {input});
  agent_spec s;
  s.name = "alice";
  s.kind = "human";
  REQUIRE(rt.spawn(s));
  REQUIRE(rt.send("alice", "fyi: lunch at noon"));
  auto a = rt.ask("alice", "coming?", 1000);
  REQUIRE(a);
  CHECK(a->content == "yes");
  auto b = rt.ask("alice", "sure?", 1000);
  REQUIRE(b);
  CHECK(b->content == "no");
  auto c = rt.ask("alice", "still there?", 1000);
  REQUIRE(!c);
  CHECK(c.error().message.find("no more lines") != std::string::npos);
  CHECK(input->prompts() == std::vector<std::string>{"coming?", "sure?", "still there?"});
  CHECK(input->shown().front() == "fyi: lunch at noon");
}

TEST_CASE("threaded: the human's blocking read runs off the actor threads") {
  runtime_config cfg;
  cfg.scheduler_threads = 1; // exercises the detached-actor path of run_blocking
  runtime rt{cfg};
  auto input = std::make_shared<troupe::test::scripted_input>(std::vector<std::string>{"hello"});
  troupe::agents::register_builtin_kinds(rt.kinds(), {input});
  agent_spec s;
  s.name = "bob";
  s.kind = "human";
  REQUIRE(rt.spawn(s));
  auto a = rt.ask("bob", "say hi", 10'000);
  REQUIRE(a);
  CHECK(a->content == "hello");
}

namespace {

/// A pipe whose ends close with the test.
struct test_pipe {
  int fds[2] = {-1, -1};
  test_pipe() { REQUIRE(::pipe(fds) == 0); }
  ~test_pipe() {
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
  void write_text(std::string_view text) const {
    REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  void close_write() {
    ::close(fds[1]);
    fds[1] = -1;
  }
};

} // namespace

TEST_CASE("fd input: lines, a last line without newline, then end of input") {
  test_pipe p;
  p.write_text("first\r\nsecond\nlast");
  p.close_write();
  std::vector<std::string> shown;
  auto input = troupe::agents::make_fd_input(p.fds[0], [&shown](std::string_view t) { shown.emplace_back(t); });
  CHECK(*input->read_line("h", "q1") == "first");
  CHECK(*input->read_line("h", "q2") == "second");
  CHECK(*input->read_line("h", "q3") == "last");
  auto end = input->read_line("h", "q4");
  REQUIRE(!end);
  CHECK(end.error().code == errc::io);
  CHECK(shown.front() == "[h] q1\n> ");
}

TEST_CASE("fd input: a read blocked on a silent pipe returns 'cancelled' once cancelled") {
  test_pipe p; // nobody ever writes
  auto input = troupe::agents::make_fd_input(p.fds[0]);
  troupe::agents::read_cancel cancel;
  auto reader = std::async(std::launch::async, [&] { return input->read_line_until("h", "q", cancel); });
  cancel.cancel(); // before or during the read: either way it must end
  auto r = reader.get();
  REQUIRE(!r);
  CHECK(r.error().code == errc::cancelled);
  troupe::agents::read_cancel already;
  already.cancel();
  auto again = input->read_line_until("h", "q", already);
  REQUIRE(!again);
  CHECK(again.error().code == errc::cancelled);
}

TEST_CASE("threaded: shutdown does not wait for a human blocked on input that never comes") {
  test_pipe p; // stdin stand-in that never writes
  std::promise<void> prompted;
  auto prompted_future = prompted.get_future();
  std::atomic<bool> once{false};
  auto input = troupe::agents::make_fd_input(p.fds[0], [&](std::string_view text) {
    if (text.rfind("[carol]", 0) == 0 && !once.exchange(true))
      prompted.set_value(); // shown right before the read starts waiting
  });
  std::atomic<int> answers{0};
  {
    runtime_config cfg;
    cfg.scheduler_threads = 2;
    runtime rt{cfg};
    troupe::agents::register_builtin_kinds(rt.kinds(), {input});
    agent_spec s;
    s.name = "carol";
    s.kind = "human";
    REQUIRE(rt.spawn(s));
    rt.request("carol", "anyone there?", 3'600'000, [&answers](result<envelope>) { ++answers; });
    prompted_future.wait(); // carol's reader is now blocked on the silent pipe
    rt.shutdown();
  } // ~runtime returns only once the blocked reader has given up
  CHECK(answers.load() == 0); // no line was ever read, so no answer was made up
  CHECK(once.load());
}
