// Test helper: an agent kind whose behavior is a lambda (the lambda is shared by restarts).
#pragma once

#include <functional>
#include <memory>

#include <troupe/runtime/agent.hpp>
#include <troupe/runtime/runtime.hpp>

namespace troupe::test {

using handler = std::function<void(runtime::agent_context&, const runtime::envelope&)>;

/// A behavior that calls `fn` for every message.
class fn_behavior final : public runtime::agent_behavior {
public:
  explicit fn_behavior(handler fn) : fn_(std::move(fn)) {}
  void on_message(runtime::agent_context& ctx, const runtime::envelope& m) override { fn_(ctx, m); }

private:
  handler fn_;
};

/// A factory making `fn_behavior`s that share `fn`.
inline runtime::agent_factory fn_factory(handler fn) {
  return [fn](const runtime::agent_spec&) -> runtime::result<std::unique_ptr<runtime::agent_behavior>> {
    return std::make_unique<fn_behavior>(fn);
  };
}

/// A runtime configuration on CAF's test coordinator (virtual time, driven by the caller),
/// keeping the last `transcript_capacity` events.
inline runtime::runtime_config deterministic_config(std::size_t transcript_capacity = 0) {
  runtime::runtime_config c;
  c.deterministic = true;
  c.transcript_capacity = transcript_capacity;
  return c;
}

/// An agent spec with a name and defaults.
inline runtime::agent_spec named(std::string name, std::size_t capacity = 1024,
                                 runtime::overflow_policy policy = runtime::overflow_policy::reject) {
  runtime::agent_spec s;
  s.name = std::move(name);
  s.kind = "test";
  s.mailbox.capacity = capacity;
  s.mailbox.policy = policy;
  return s;
}

} // namespace troupe::test
