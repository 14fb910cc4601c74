// The `human` agent kind and the stdin input source.
#include <iostream>
#include <mutex>

#include "options.hpp"
#include "troupe/agents/kinds.hpp"

namespace troupe::agents {
namespace {

using namespace troupe::runtime;

class human_behavior final : public agent_behavior {
public:
  explicit human_behavior(std::shared_ptr<input_source> input) : input_(std::move(input)) {}

  void on_message(agent_context& ctx, const envelope& m) override {
    input_->show(ctx.name(), m);
    ctx.memory().add({"user", fmt::format("{}: {}", m.sender, m.content)});
    if (m.kind != message_kind::request)
      return;
    auto input = input_;
    auto agent = ctx.name();
    auto prompt = m.content;
    auto request = m;
    // Reading may block for minutes: it runs off the actor threads (a detached actor).
    ctx.run_blocking([input, agent, prompt]() { return input->read_line(agent, prompt); },
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
};

class stdin_input final : public input_source {
public:
  explicit stdin_input(std::function<void(std::string_view)> display) : display_(std::move(display)) {}

  result<std::string> read_line(std::string_view agent, std::string_view prompt) override {
    std::lock_guard<std::mutex> guard{mutex_};
    if (display_)
      display_(fmt::format("[{}] {}\n> ", agent, prompt));
    std::string line;
    if (!std::getline(std::cin, line))
      return fail(errc::io, fmt::format("end of input while waiting for human agent '{}'", agent));
    return line;
  }

  void show(std::string_view agent, const envelope& m) override {
    if (display_ && m.kind != message_kind::request)
      display_(fmt::format("[{} <- {}] {}\n", agent, m.sender, m.content));
  }

private:
  std::mutex mutex_; ///< one prompt at a time on the terminal
  std::function<void(std::string_view)> display_;
};

} // namespace

std::shared_ptr<input_source> make_stdin_input(std::function<void(std::string_view)> display) {
  return std::make_shared<stdin_input>(std::move(display));
}

agent_factory human_factory(std::shared_ptr<input_source> input) {
  if (!input)
    input = make_stdin_input();
  return [input](const agent_spec&) -> result<std::unique_ptr<agent_behavior>> {
    return std::make_unique<human_behavior>(input);
  };
}

} // namespace troupe::agents
