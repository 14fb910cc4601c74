// Registering a custom agent kind from C++.
#include <doctest/doctest.h>

#include <troupe/agents/kinds.hpp>
#include <troupe/runtime/runtime.hpp>

using namespace troupe::runtime;

namespace {
class shout final : public agent_behavior {
public:
  void on_message(agent_context& ctx, const envelope& m) override {
    std::string up = m.content;
    for (auto& c : up)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (m.kind == message_kind::request)
      (void)ctx.reply(m, up);
  }
};
} // namespace

TEST_CASE("a registered kind spawns by name; duplicates and unknown kinds are errors") {
  runtime_config cfg;
  cfg.deterministic = true;
  runtime rt{cfg};
  troupe::agents::register_builtin_kinds(rt.kinds());
  auto factory = [](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
    return std::make_unique<shout>();
  };
  REQUIRE(rt.kinds().add("shout", factory));
  CHECK(!rt.kinds().add("shout", factory));
  CHECK(rt.kinds().names() == std::vector<std::string>{"human", "llm", "router", "shout"});
  agent_spec s;
  s.name = "loud";
  s.kind = "shout";
  REQUIRE(rt.spawn(s));
  auto r = rt.ask("loud", "hello", 1000);
  REQUIRE(r);
  CHECK(r->content == "HELLO");
  s.name = "x";
  s.kind = "whisper";
  auto bad = rt.spawn(s);
  REQUIRE(!bad);
  CHECK(bad.error().code == errc::unknown_kind);
  CHECK(bad.error().message.find("shout") != std::string::npos);
}
