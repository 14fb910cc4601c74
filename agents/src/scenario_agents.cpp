#include "troupe/agents/scenario_agents.hpp"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "troupe/agents/kinds.hpp"

namespace troupe::agents {

namespace {

using namespace troupe::runtime;

void add_sampling(const scenario& s, const scenario_agent& a, std::optional<std::uint64_t> seed,
                  agent_spec& spec) {
  const auto it = s.profiles.find(a.profile);
  if (it == s.profiles.end()) return;
  const auto& p = it->second;
  spec.params["temperature"] = fmt::format("{}", p.temperature);
  spec.params["top_k"] = std::to_string(p.top_k);
  spec.params["top_p"] = fmt::format("{}", p.top_p);
  spec.params["min_p"] = fmt::format("{}", p.min_p);
  spec.params["repeat_penalty"] = fmt::format("{}", p.repeat_penalty);
  spec.params["max_tokens"] = std::to_string(p.max_tokens);
  spec.params["seed"] = std::to_string(p.seed ? *p.seed : seed ? *seed : s.seed);
  std::string stop;
  for (const auto& x : p.stop) stop += (stop.empty() ? "" : "|") + x;
  if (!stop.empty()) spec.params["stop"] = stop;
  spec.params["model"] = p.model;
}

class scripted_input final : public input_source {
public:
  scripted_input(std::map<std::string, std::vector<std::string>> scripts,
                 std::shared_ptr<input_source> other)
      : scripts_(std::move(scripts)), other_(std::move(other)) {}

  result<std::string> read_line(std::string_view agent, std::string_view prompt) override {
    read_cancel never;
    return read_line_until(agent, prompt, never);
  }

  result<std::string> read_line_until(std::string_view agent, std::string_view prompt,
                                      const read_cancel& cancel) override {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      auto it = scripts_.find(std::string{agent});
      if (it != scripts_.end()) {
        auto& next = next_[it->first];
        if (next >= it->second.size())
          return fail(errc::io, fmt::format("human agent '{}' has no more scripted answers ({} given)",
                                            agent, it->second.size()));
        return it->second[next++];
      }
    }
    if (!other_) return fail(errc::io, fmt::format("human agent '{}' has no script and no input", agent));
    return other_->read_line_until(agent, prompt, cancel);
  }

  void show(std::string_view agent, const envelope& message) override {
    if (other_ && !scripts_.count(std::string{agent})) other_->show(agent, message);
  }

private:
  std::mutex mutex_;  ///< read_line runs on blocking workers, possibly concurrently
  std::map<std::string, std::vector<std::string>> scripts_;
  std::map<std::string, std::size_t> next_;
  std::shared_ptr<input_source> other_;
};

} // namespace

std::vector<agent_spec> agent_specs(const scenario& s, std::optional<std::uint64_t> seed) {
  std::vector<agent_spec> out;
  for (const auto& a : s.agents) {
    agent_spec spec;
    spec.name = a.name;
    spec.kind = std::string{to_string(a.kind)};
    spec.role = a.role;
    spec.profile = a.profile;
    spec.subscriptions = a.subscribe;
    spec.mailbox = a.mailbox;
    spec.on_failure = a.supervision;
    spec.max_restarts = static_cast<std::size_t>(a.max_restarts);
    spec.memory_tokens = static_cast<std::size_t>(a.memory_tokens);
    if (!a.prompt_template.empty()) spec.params["template"] = a.prompt_template;
    add_sampling(s, a, seed, spec);
    if (a.kind == agent_kind::router) {
      std::string keywords;
      for (const auto& r : a.rules) keywords += (keywords.empty() ? "" : ",") + r.contains + ":" + r.next;
      if (!a.rules.empty() || !a.fallback.empty()) {
        spec.params["mode"] = "keyword";
        spec.params["keywords"] = keywords;
        if (!a.fallback.empty()) spec.params["default"] = a.fallback;
      } else {
        spec.params["mode"] = "model";
      }
      std::string candidates;
      for (const auto& sp : s.speakers()) candidates += (candidates.empty() ? "" : ",") + sp;
      spec.params["candidates"] = candidates;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::shared_ptr<input_source> make_scripted_input(const scenario& s, std::shared_ptr<input_source> other) {
  std::map<std::string, std::vector<std::string>> scripts;
  for (const auto& a : s.agents)
    if (a.kind == agent_kind::human && !a.script.empty()) scripts[a.name] = a.script;
  return std::make_shared<scripted_input>(std::move(scripts), std::move(other));
}

result<void> spawn_scenario(runtime::runtime& rt, const scenario& s,
                            std::shared_ptr<input_source> human_input, std::optional<std::uint64_t> seed) {
  builtin_options opts;
  opts.human_input = make_scripted_input(s, std::move(human_input));
  register_builtin_kinds(rt.kinds(), opts);
  for (auto& spec : agent_specs(s, seed)) {
    if (auto r = rt.spawn(std::move(spec)); !r) return r;
  }
  return {};
}

} // namespace troupe::agents
