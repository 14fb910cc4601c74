// The router agent kind: round robin, keywords, and asking a model (scripted test double).
#include <doctest/doctest.h>

#include <troupe/agents/kinds.hpp>
#include <troupe/runtime/runtime.hpp>

#include "support/fn_agent.hpp"
#include "support/scripted_inference.hpp"

using namespace troupe::runtime;

namespace {
struct fixture {
  runtime rt{troupe::test::deterministic_config(100)};
  fixture() { troupe::agents::register_builtin_kinds(rt.kinds()); }
  std::string next(const std::string& router, const std::string& text,
                   std::map<std::string, std::string> meta = {}) {
    std::string out;
    rt.request(router, text, 1000, [&out](result<envelope> r) {
      out = r ? r->metadata.at("next") : "error: " + r.error().message;
    }, std::move(meta));
    rt.wait(); // runs until idle
    return out;
  }
  void spawn(std::string name, std::map<std::string, std::string> params) {
    agent_spec s;
    s.name = std::move(name);
    s.kind = "router";
    s.params = std::move(params);
    REQUIRE(rt.spawn(s));
  }
};
} // namespace

TEST_CASE("round robin cycles through the candidates") {
  fixture f;
  f.spawn("rr", {{"candidates", "a, b,c"}});
  CHECK(f.next("rr", "x") == "a");
  CHECK(f.next("rr", "x") == "b");
  CHECK(f.next("rr", "x") == "c");
  CHECK(f.next("rr", "x") == "a");
  CHECK(f.next("rr", "x", {{"candidates", "z"}}) == "z");
}

TEST_CASE("keyword routing picks the first matching keyword, else the default") {
  fixture f;
  f.spawn("kw", {{"mode", "keyword"}, {"keywords", "bug:engineer,price:sales"}, {"default", "support"}});
  CHECK(f.next("kw", "I found a BUG in the app") == "engineer");
  CHECK(f.next("kw", "what is the price?") == "sales");
  CHECK(f.next("kw", "hello") == "support");
}

TEST_CASE("model routing takes the candidate the model names, or falls back") {
  fixture f;
  auto engine = std::make_shared<troupe::test::scripted_inference>(
    std::vector<std::string>{"I think Bob should speak", "nobody"});
  f.rt.set_inference_client(engine);
  f.spawn("m", {{"mode", "model"}, {"candidates", "alice,bob"}});
  CHECK(f.next("m", "who next?") == "bob");
  CHECK(f.next("m", "who next?") == "alice"); // fallback: round robin starts at alice
  auto reqs = engine->requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].messages[0].content.find("alice, bob") != std::string::npos);
  bool noted = false;
  for (const auto& e : f.rt.transcript())
    noted = noted || (e.type == event_type::note && e.detail.find("named no candidate") != std::string::npos);
  CHECK(noted);
}

TEST_CASE("a bad router option refuses to start") {
  fixture f;
  agent_spec s;
  s.name = "bad";
  s.kind = "router";
  s.on_failure = restart_policy::stop;
  s.params = {{"mode", "coin_flip"}};
  REQUIRE(f.rt.spawn(s));
  f.rt.run_pending();
  CHECK(!f.rt.has_agent("bad"));
}
