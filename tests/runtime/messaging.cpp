// Direct messages and requests between agents (deterministic test coordinator).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"

using namespace troupe::runtime;
using troupe::test::fn_factory;
using troupe::test::named;

namespace {
runtime_config det() { return troupe::test::deterministic_config(); }
} // namespace

TEST_CASE("a host message reaches an agent and the agent can answer by name") {
  runtime rt{det()};
  std::vector<std::string> got;
  REQUIRE(rt.spawn(named("echo"), fn_factory([](agent_context& ctx, const envelope& m) {
    REQUIRE(ctx.send("sink", "echo:" + m.content));
  })));
  REQUIRE(rt.spawn(named("sink"), fn_factory([&got](agent_context&, const envelope& m) {
    got.push_back(m.sender + "/" + m.content);
  })));
  rt.run_pending();
  REQUIRE(rt.send("echo", "hi"));
  rt.run_pending();
  REQUIRE(got == std::vector<std::string>{"echo/echo:hi"});
}

TEST_CASE("sending to an unknown agent or spawning a duplicate name is an error") {
  runtime rt{det()};
  auto r = rt.send("nobody", "x");
  REQUIRE(!r);
  CHECK(r.error().code == errc::not_found);
  REQUIRE(rt.spawn(named("a"), fn_factory([](agent_context&, const envelope&) {})));
  auto dup = rt.spawn(named("a"), fn_factory([](agent_context&, const envelope&) {}));
  REQUIRE(!dup);
  CHECK(dup.error().code == errc::duplicate_name);
  CHECK(!rt.spawn(named("_reserved"), fn_factory([](agent_context&, const envelope&) {})));
  CHECK(!rt.spawn(named("bad name"), fn_factory([](agent_context&, const envelope&) {})));
  auto unknown = rt.spawn(named("k"));
  REQUIRE(!unknown);
  CHECK(unknown.error().code == errc::unknown_kind);
  CHECK(rt.agent_count() == 1);
}

TEST_CASE("an agent's cached peer that stopped: the name's new owner gets the mail, else not_found") {
  runtime rt{det()};
  std::vector<std::string> got;
  std::vector<errc> errors;
  REQUIRE(rt.spawn(named("talker"), fn_factory([&errors](agent_context& ctx, const envelope& m) {
    if (auto r = ctx.send("peer", m.content); !r)
      errors.push_back(r.error().code);
  })));
  auto peer = [&got](std::string tag) {
    return fn_factory([&got, tag](agent_context&, const envelope& m) { got.push_back(tag + ":" + m.content); });
  };
  REQUIRE(rt.spawn(named("peer"), peer("old")));
  rt.run_pending();
  REQUIRE(rt.send("talker", "1")); // talker now caches the old peer
  rt.run_pending();
  REQUIRE(rt.stop_agent("peer"));
  rt.run_pending();
  REQUIRE(rt.send("talker", "2")); // cached peer stopped and nobody has the name
  rt.run_pending();
  REQUIRE(rt.spawn(named("peer"), peer("new")));
  rt.run_pending();
  REQUIRE(rt.send("talker", "3")); // the cache entry was dropped: a fresh lookup
  rt.run_pending();
  REQUIRE(rt.stop_agent("peer"));
  REQUIRE(rt.spawn(named("peer"), peer("newer")));
  rt.run_pending();
  REQUIRE(rt.send("talker", "4")); // cached peer stopped, the name has a new owner
  rt.run_pending();
  CHECK(got == std::vector<std::string>{"old:1", "new:3", "newer:4"});
  CHECK(errors == std::vector<errc>{errc::not_found});
}

TEST_CASE("order is preserved per sender->receiver pair") {
  runtime rt{det()};
  constexpr int n = 2000;
  std::vector<int> from_a, from_b;
  REQUIRE(rt.spawn(named("recv", 10'000), fn_factory([&](agent_context&, const envelope& m) {
    (m.sender == "a" ? from_a : from_b).push_back(std::stoi(m.content));
  })));
  auto burst = [](agent_context& ctx, const envelope&) {
    for (int i = 0; i < n; ++i)
      REQUIRE(ctx.send("recv", std::to_string(i)));
  };
  REQUIRE(rt.spawn(named("a"), fn_factory(burst)));
  REQUIRE(rt.spawn(named("b"), fn_factory(burst)));
  rt.run_pending();
  REQUIRE(rt.send("a", "go"));
  REQUIRE(rt.send("b", "go"));
  rt.run_pending();
  REQUIRE(from_a.size() == n);
  REQUIRE(from_b.size() == n);
  for (int i = 0; i < n; ++i) {
    REQUIRE(from_a[i] == i);
    REQUIRE(from_b[i] == i);
  }
}

TEST_CASE("request/reply between agents, with the reply's parent id and conversation") {
  runtime rt{det()};
  std::string answer;
  REQUIRE(rt.spawn(named("square"), fn_factory([](agent_context& ctx, const envelope& m) {
    int v = std::stoi(m.content);
    REQUIRE(ctx.reply(m, std::to_string(v * v)));
  })));
  REQUIRE(rt.spawn(named("asker"), fn_factory([&answer](agent_context& ctx, const envelope& m) {
    auto request_conv = m.conversation_id;
    ctx.request("square", m.content, 1000, [&answer](result<envelope> r) {
      REQUIRE(r);
      CHECK(r->kind == message_kind::reply);
      CHECK(!r->parent_id.empty());
      answer = r->content;
    });
  })));
  rt.run_pending();
  REQUIRE(rt.send("asker", "12"));
  rt.run_pending();
  CHECK(answer == "144");
  auto direct = rt.ask("square", "7", 1000);
  REQUIRE(direct);
  CHECK(direct->content == "49");
  CHECK(direct->sender == "square");
}

TEST_CASE("a request without a reply times out with an error value") {
  runtime rt{det()};
  REQUIRE(rt.spawn(named("silent"), fn_factory([](agent_context&, const envelope&) {})));
  std::optional<result<envelope>> seen;
  REQUIRE(rt.spawn(named("asker"), fn_factory([&seen](agent_context& ctx, const envelope&) {
    ctx.request("silent", "hello?", 250, [&seen](result<envelope> r) { seen = std::move(r); });
  })));
  rt.run_pending();
  REQUIRE(rt.send("asker", "go"));
  rt.run_pending();
  CHECK(!seen.has_value()); // virtual time has not moved
  rt.advance_time_ms(249);
  CHECK(!seen.has_value());
  rt.advance_time_ms(1);
  REQUIRE(seen.has_value());
  REQUIRE(!*seen);
  CHECK(seen->error().code == errc::timeout);

  auto host = rt.ask("silent", "anyone?", 5000);
  REQUIRE(!host);
  CHECK(host.error().code == errc::timeout);
  auto missing = rt.ask("ghost", "x", 100);
  REQUIRE(!missing);
  CHECK(missing.error().code == errc::not_found);
}

TEST_CASE("reply_error reaches the requester as agent_failed") {
  runtime rt{det()};
  REQUIRE(rt.spawn(named("grumpy"), fn_factory([](agent_context& ctx, const envelope& m) {
    REQUIRE(ctx.reply_error(m, "not today"));
  })));
  auto r = rt.ask("grumpy", "please", 1000);
  REQUIRE(!r);
  CHECK(r.error().code == errc::agent_failed);
  CHECK(r.error().message.find("not today") != std::string::npos);
}

TEST_CASE("envelopes get unique ids, timestamps, and the observer sees deliveries") {
  runtime_config cfg = det();
  cfg.transcript_capacity = 100;
  runtime rt{cfg};
  std::vector<std::string> ids;
  REQUIRE(rt.spawn(named("a"), fn_factory([&ids](agent_context&, const envelope& m) {
    ids.push_back(m.id);
    CHECK(m.timestamp_ms > 0);
    CHECK(m.version == envelope_version);
  })));
  rt.run_pending();
  for (int i = 0; i < 5; ++i)
    REQUIRE(rt.send("a", "m"));
  rt.run_pending();
  REQUIRE(ids.size() == 5);
  std::sort(ids.begin(), ids.end());
  CHECK(std::unique(ids.begin(), ids.end()) == ids.end());
  int delivered = 0;
  for (const auto& e : rt.transcript())
    if (e.type == event_type::delivered && e.agent == "a")
      ++delivered;
  CHECK(delivered == 5);
}

namespace {
/// Splits "<8 hex>-<base 36 counter>" into its prefix and counter; false when malformed.
bool parse_id(const std::string& id, std::string& prefix, std::uint64_t& counter) {
  auto dash = id.find('-');
  if (dash != 8 || dash + 1 >= id.size())
    return false;
  for (char c : id.substr(dash + 1))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
      return false;
  prefix = id.substr(0, dash);
  counter = std::stoull(id.substr(dash + 1), nullptr, 36);
  return true;
}
} // namespace

TEST_CASE("ids from one thread count up by one in base 36, across digit carries") {
  runtime rt{det()};
  std::vector<std::string> ids;
  REQUIRE(rt.spawn(named("a", 4096), fn_factory([&ids](agent_context&, const envelope& m) { ids.push_back(m.id); })));
  rt.run_pending();
  for (int i = 0; i < 3000; ++i) // passes 36 and 1296 (one more base-36 digit each)
    REQUIRE(rt.send("a", "m"));
  rt.run_pending();
  REQUIRE(ids.size() == 3000);
  std::string prefix0, prefix;
  std::uint64_t first = 0, n = 0;
  REQUIRE(parse_id(ids.front(), prefix0, first));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    REQUIRE(parse_id(ids[i], prefix, n));
    CHECK(prefix == prefix0);
    CHECK(n == first + i); // one thread, nothing else took ids in between
  }
}

TEST_CASE("ids stay unique when many threads send at once") {
  runtime_config cfg;
  cfg.scheduler_threads = 4;
  runtime rt{cfg};
  constexpr int senders = 4, per_sender = 2000;
  std::mutex mutex;
  std::vector<std::string> ids;
  std::atomic<int> got{0};
  REQUIRE(rt.spawn(named("sink", senders * per_sender + 8), fn_factory([&](agent_context&, const envelope& m) {
    if (m.sender == "host")
      return;
    std::lock_guard<std::mutex> guard{mutex};
    ids.push_back(m.id);
    ids.push_back(m.conversation_id); // its own id: a message starts a conversation
    got.fetch_add(1);
  })));
  for (int i = 0; i < senders; ++i)
    REQUIRE(rt.spawn(named("s" + std::to_string(i)), fn_factory([](agent_context& ctx, const envelope&) {
      for (int k = 0; k < per_sender; ++k)
        REQUIRE(ctx.send("sink", "x"));
    })));
  for (int i = 0; i < senders; ++i)
    REQUIRE(rt.send("s" + std::to_string(i), "go"));
  for (int spin = 0; spin < 2'000'000 && got.load() < senders * per_sender; ++spin)
    std::this_thread::yield();
  std::lock_guard<std::mutex> guard{mutex};
  REQUIRE(ids.size() == 2u * senders * per_sender);
  std::vector<std::string> own;
  for (std::size_t i = 0; i < ids.size(); i += 2) {
    CHECK(ids[i] == ids[i + 1]);
    own.push_back(ids[i]);
  }
  std::sort(own.begin(), own.end());
  CHECK(std::unique(own.begin(), own.end()) == own.end());
}

TEST_CASE("an agent can stop the run; wait returns the reason") {
  runtime rt{det()};
  REQUIRE(rt.spawn(named("boss"), fn_factory([](agent_context& ctx, const envelope& m) {
    ctx.stop_run("done: " + m.content);
  })));
  REQUIRE(rt.send("boss", "ok"));
  auto r = rt.wait();
  REQUIRE(r);
  CHECK(*r == "done: ok");
}
