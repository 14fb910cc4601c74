// The `llm` agent kind.
#include "options.hpp"
#include "troupe/agents/kinds.hpp"

namespace troupe::agents {
namespace {

using namespace troupe::runtime;

class llm_behavior final : public agent_behavior {
public:
  llm_behavior(sampling_params sampling, std::string system_prompt, std::int64_t timeout_ms)
      : sampling_(std::move(sampling)), system_(std::move(system_prompt)), timeout_ms_(timeout_ms) {}

  void on_message(agent_context& ctx, const envelope& m) override {
    ctx.memory().add({"user", fmt::format("{}: {}", m.sender, m.content)});
    if (m.kind != message_kind::request)
      return; // context only
    generation_request req;
    req.agent = ctx.name();
    req.profile = ctx.spec().profile;
    req.sampling = sampling_;
    if (!system_.empty())
      req.messages.push_back({"system", system_});
    for (auto& turn : ctx.memory().messages())
      req.messages.push_back(std::move(turn));
    if (timeout_ms_ > 0)
      req.deadline_ms = now_ms() + timeout_ms_;
    auto request = m;
    ctx.generate(std::move(req), {}, [&ctx, request](result<generation_result> r) {
      // `ctx` is this agent's context: the callback runs inside the same agent.
      if (!r) {
        (void)ctx.reply_error(request, r.error().message);
        return;
      }
      ctx.memory().add({"assistant", r->text});
      (void)ctx.reply(request, r->text,
                      {{"finish_reason", r->finish_reason},
                       {"completion_tokens", std::to_string(r->completion_tokens)}});
    });
  }

private:
  sampling_params sampling_;
  std::string system_;
  std::int64_t timeout_ms_;
};

} // namespace

agent_factory llm_factory() {
  return [](const agent_spec& spec) -> result<std::unique_ptr<agent_behavior>> {
    auto sampling = detail::sampling_from(spec);
    if (!sampling)
      return tl::make_unexpected(sampling.error());
    auto system = detail::fill(detail::option(spec, "template", "{role}"),
                               {{"name", spec.name}, {"role", spec.role}});
    std::int64_t timeout_ms = 0;
    if (auto t = detail::option(spec, "timeout_ms"); !t.empty())
      timeout_ms = std::atoll(t.c_str());
    return std::make_unique<llm_behavior>(std::move(*sampling), std::move(system), timeout_ms);
  };
}

} // namespace troupe::agents
