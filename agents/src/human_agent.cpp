// The `human` agent kind: answers requests with lines from an input source.
#include "options.hpp"
#include "troupe/agents/kinds.hpp"

namespace troupe::agents {
namespace {

using namespace troupe::runtime;

class human_behavior final : public agent_behavior {
public:
  explicit human_behavior(std::shared_ptr<input_source> input)
      : input_(std::move(input)), cancel_(std::make_shared<read_cancel>()) {}

  /// The incarnation is gone (agent stopped, runtime shutting down, restart): a read still
  /// blocked for it gives up, so the detached reader ends and shutdown need not wait for input.
  ~human_behavior() override { cancel_->cancel(); }

  void on_message(agent_context& ctx, const envelope& m) override {
    input_->show(ctx.name(), m);
    ctx.memory().add({"user", fmt::format("{}: {}", m.sender, m.content)});
    if (m.kind != message_kind::request)
      return;
    auto input = input_;
    auto cancel = cancel_;
    auto agent = ctx.name();
    auto prompt = m.content;
    auto request = m;
    // Reading may block for minutes: it runs off the actor threads (a detached actor).
    ctx.run_blocking([input, cancel, agent, prompt]() { return input->read_line_until(agent, prompt, *cancel); },
                     [&ctx, request](result<std::string> line) {
                       if (!line) {
                         (void)ctx.reply_error(request, line.error().message);
                         return;
                       }
                       ctx.memory().add({"assistant", *line});
                       (void)ctx.reply(request, *line);
                     });
  }

private:
  std::shared_ptr<input_source> input_;
  std::shared_ptr<read_cancel> cancel_; ///< shared with this incarnation's pending reads
};

} // namespace

agent_factory human_factory(std::shared_ptr<input_source> input) {
  if (!input)
    input = make_stdin_input();
  return [input](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
    return std::make_unique<human_behavior>(input);
  };
}

} // namespace troupe::agents
