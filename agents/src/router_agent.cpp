// The `router` agent kind: picks the next speaker.
#include <algorithm>
#include <cctype>

#include "options.hpp"
#include "troupe/agents/kinds.hpp"

namespace troupe::agents {
namespace {

using namespace troupe::runtime;

enum class route_mode { round_robin, keyword, model };

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class router_behavior final : public agent_behavior {
public:
  router_behavior(route_mode mode, std::vector<std::string> candidates,
                  std::vector<std::pair<std::string, std::string>> keywords, std::string fallback,
                  sampling_params sampling)
      : mode_(mode), candidates_(std::move(candidates)), keywords_(std::move(keywords)),
        fallback_(std::move(fallback)), sampling_(std::move(sampling)) {}

  void on_message(agent_context& ctx, const envelope& m) override {
    if (m.kind != message_kind::request)
      return;
    auto candidates = candidates_;
    if (auto c = m.metadata.find("candidates"); c != m.metadata.end())
      candidates = detail::split(c->second, ',');
    if (candidates.empty() && mode_ != route_mode::keyword) {
      (void)ctx.reply_error(m, fmt::format("router '{}' has no candidates", ctx.name()));
      return;
    }
    if (mode_ == route_mode::keyword) {
      auto text = lower(m.content);
      for (const auto& [word, agent] : keywords_)
        if (text.find(lower(word)) != std::string::npos)
          return answer(ctx, m, agent);
      if (!fallback_.empty())
        return answer(ctx, m, fallback_);
      if (candidates.empty()) {
        (void)ctx.reply_error(m, fmt::format("router '{}': no keyword matched and no default", ctx.name()));
        return;
      }
    }
    if (mode_ == route_mode::model)
      return ask_model(ctx, m, std::move(candidates));
    answer(ctx, m, next_in_turn(candidates));
  }

private:
  std::string next_in_turn(const std::vector<std::string>& candidates) {
    return candidates[turn_++ % candidates.size()];
  }

  void answer(agent_context& ctx, const envelope& request, const std::string& next) {
    (void)ctx.reply(request, next, {{"next", next}});
  }

  void ask_model(agent_context& ctx, const envelope& m, std::vector<std::string> candidates) {
    generation_request req;
    req.agent = ctx.name();
    req.profile = ctx.spec().profile;
    req.sampling = sampling_;
    std::string list;
    for (const auto& c : candidates)
      list += (list.empty() ? "" : ", ") + c;
    req.messages.push_back({"system", fmt::format("{}\nChoose who speaks next. Answer with exactly one "
                                                  "name from: {}.", ctx.spec().role, list)});
    req.messages.push_back({"user", m.content});
    auto request = m;
    ctx.generate(std::move(req), {}, [this, &ctx, request, candidates](result<generation_result> r) {
      if (r) {
        // The candidate named earliest in the answer wins.
        std::size_t best = std::string::npos;
        std::string chosen;
        auto text = lower(r->text);
        for (const auto& c : candidates)
          if (auto pos = text.find(lower(c)); pos < best) {
            best = pos;
            chosen = c;
          }
        if (!chosen.empty())
          return answer(ctx, request, chosen);
        ctx.note(fmt::format("router '{}': the model named no candidate ('{}'); using round robin",
                             ctx.name(), r->text));
      } else {
        ctx.note(fmt::format("router '{}': model failed ({}); using round robin", ctx.name(),
                             r.error().message));
      }
      answer(ctx, request, next_in_turn(candidates));
    });
  }

  route_mode mode_;
  std::vector<std::string> candidates_;
  std::vector<std::pair<std::string, std::string>> keywords_;
  std::string fallback_;
  sampling_params sampling_;
  std::size_t turn_ = 0;
};

} // namespace

agent_factory router_factory() {
  return [](const agent_spec& spec) -> result<std::unique_ptr<agent_behavior>> {
    auto mode_text = detail::option(spec, "mode", "round_robin");
    route_mode mode;
    if (mode_text == "round_robin")
      mode = route_mode::round_robin;
    else if (mode_text == "keyword")
      mode = route_mode::keyword;
    else if (mode_text == "model")
      mode = route_mode::model;
    else
      return fail(errc::invalid_argument,
                  fmt::format("router '{}': mode '{}' is not round_robin, keyword or model", spec.name, mode_text));
    std::vector<std::pair<std::string, std::string>> keywords;
    for (const auto& pair : detail::split(detail::option(spec, "keywords"), ',')) {
      auto colon = pair.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size())
        return fail(errc::invalid_argument,
                    fmt::format("router '{}': keyword entry '{}' is not word:agent", spec.name, pair));
      keywords.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
    }
    auto sampling = detail::sampling_from(spec);
    if (!sampling)
      return tl::make_unexpected(sampling.error());
    return std::make_unique<router_behavior>(mode, detail::split(detail::option(spec, "candidates"), ','),
                                             std::move(keywords), detail::option(spec, "default"),
                                             std::move(*sampling));
  };
}

void register_builtin_kinds(runtime::kind_registry& kinds, builtin_options options) {
  kinds.set("llm", llm_factory());
  kinds.set("human", human_factory(std::move(options.human_input)));
  kinds.set("router", router_factory());
}

} // namespace troupe::agents
