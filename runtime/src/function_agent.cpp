#include "troupe/runtime/agent.hpp"

namespace troupe::runtime {
namespace {

class function_behavior final : public agent_behavior {
public:
  explicit function_behavior(message_handler fn) : fn_(std::move(fn)) {}
  void on_message(agent_context& ctx, const envelope& message) override { fn_(ctx, message); }

private:
  message_handler fn_;
};

} // namespace

agent_factory from_function(message_handler fn) {
  return [fn](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
    return std::make_unique<function_behavior>(fn);
  };
}

} // namespace troupe::runtime
