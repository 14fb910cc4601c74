// Cross-references (agents, topics, profiles) and whether the flow can run at all.
#include "decode.hpp"

#include <fmt/format.h>

#include "troupe/runtime/topic.hpp"

namespace troupe::runtime::detail {

namespace {

struct checker {
  const scenario& s;
  const ynode& root;
  const ref_marks& refs;
  reporter& rep;

  const ynode& at(const std::string& key, const ynode& fallback) const {
    const auto it = refs.find(key);
    return it != refs.end() && it->second ? *it->second : fallback;
  }

  std::vector<std::string> agent_names() const {
    std::vector<std::string> v;
    for (const auto& a : s.agents) v.push_back(a.name);
    return v;
  }

  std::string hint_for(const std::string& name, const std::vector<std::string>& known,
                       const char* what) const {
    const auto guess = closest_match(name, known);
    if (!guess.empty()) return fmt::format("did you mean '{}'?", guess);
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    return list.empty() ? fmt::format("no {} are declared", what)
                        : fmt::format("declared {}: {}", what, list);
  }

  /// Reports unless `name` is an agent; returns it.
  const scenario_agent* need_agent(const std::string& name, const ynode& n, const std::string& use) {
    if (const auto* a = s.find_agent(name)) return a;
    rep.error(n, fmt::format("{} names unknown agent '{}'", use, name),
              hint_for(name, agent_names(), "agents"));
    return nullptr;
  }

  bool topic_declared(const std::string& t) const {
    for (const auto& d : s.topics)
      if (d.name == t) return true;
    return false;
  }

  std::vector<std::string> topic_names() const {
    std::vector<std::string> v;
    for (const auto& t : s.topics) v.push_back(t.name);
    return v;
  }

  void agents() {
    std::vector<std::string> profile_names;
    for (const auto& [k, p] : s.profiles) profile_names.push_back(k);
    for (std::size_t i = 0; i < s.agents.size(); ++i) {
      const auto& a = s.agents[i];
      const auto base = fmt::format("agents.{}", i);
      const auto& self = at(base + ".name", root);
      for (std::size_t j = 0; j < i; ++j) {
        if (!a.name.empty() && s.agents[j].name == a.name) {
          rep.error(self, fmt::format("duplicate agent name '{}'", a.name),
                    fmt::format("the first '{}' is at line {}", a.name, s.agents[j].at.line));
        }
      }
      const auto what = fmt::format("agent '{}'", a.name);
      if (!a.profile.empty() && !s.profiles.count(a.profile)) {
        rep.error(at(base + ".profile", self),
                  fmt::format("{} uses unknown profile '{}'", what, a.profile),
                  hint_for(a.profile, profile_names, "profiles"));
      }
      const bool kind_known = !refs.count(base + ".kind_invalid");
      if (kind_known && a.kind == agent_kind::llm && a.profile.empty()) {
        rep.error(self, fmt::format("llm {} needs an inference profile", what),
                  "add 'profile: NAME' naming an entry under 'profiles:'");
      }
      if (kind_known && a.kind == agent_kind::router && a.rules.empty() && a.profile.empty() && a.fallback.empty()) {
        rep.error(self, fmt::format("router {} has no rules, no fallback and no profile", what),
                  "give 'rules: [{contains: ..., next: ...}]', a 'fallback' agent, or an llm 'profile'");
      }
      for (std::size_t r = 0; r < a.rules.size(); ++r) {
        if (!a.rules[r].next.empty())
          need_agent(a.rules[r].next, at(fmt::format("{}.rules.{}", base, r), self),
                     fmt::format("rule #{} of {}", r + 1, what));
      }
      if (!a.fallback.empty()) need_agent(a.fallback, at(base + ".fallback", self), what + " fallback");
      for (const auto& pat : a.subscribe) {
        if (auto ok = validate_pattern(pat); !ok) {
          rep.error(at(base + ".subscribe", self),
                    fmt::format("{} has an invalid subscription '{}': {}", what, pat, ok.error().message),
                    "'*' matches one segment anywhere; '#' as the last segment matches the rest");
          continue;
        }
        bool any = false;
        for (const auto& t : s.topics) any = any || topic_matches(pat, t.name);
        if (!any) {
          rep.error(at(base + ".subscribe", self),
                    fmt::format("{} subscribes to '{}', which matches no declared topic", what, pat),
                    hint_for(pat, topic_names(), "topics"));
        }
      }
      if (!a.publish.empty() && !topic_declared(a.publish)) {
        rep.error(at(base + ".publish", self),
                  fmt::format("{} publishes to undeclared topic '{}'", what, a.publish),
                  hint_for(a.publish, topic_names(), "topics"));
      }
    }
  }

  void topics() {
    for (std::size_t i = 0; i < s.topics.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (s.topics[i].name == s.topics[j].name)
          rep.error(s.topics[i].at, {}, fmt::format("duplicate topic '{}'", s.topics[i].name),
                    fmt::format("the first is at line {}", s.topics[j].at.line));
  }

  /// Reports keys of `flow:` that the chosen type does not use.
  void unused_flow_keys(const std::vector<std::string>& used) {
    const auto* f = root.find("flow");
    if (!f || !f->is_map()) return;
    for (const auto& e : f->items) {
      bool ok = e.key == "type" || e.key == "opening" || e.key == "opening_from";
      for (const auto& u : used) ok = ok || u == e.key;
      bool known = false;
      for (const char* k : {"order", "router", "start", "stages", "rounds", "fallback", "topic"})
        known = known || e.key == k;
      if (!ok && known) {
        rep.key_error(e, fmt::format("'{}' is not used by {} flows", e.key, to_string(s.flow.type)),
                      "remove it, or change 'flow.type'");
      }
    }
  }

  void flow() {
    const auto& f = s.flow;
    const auto* fnode = root.find("flow");
    if (!fnode || !fnode->is_map() || refs.count("flow.type.invalid")) return;
    const ynode& fn = *fnode;
    for (std::size_t i = 0; i < f.order.size(); ++i) {
      if (const auto* a = need_agent(f.order[i], at(fmt::format("flow.order.{}", i), fn), "'flow.order'");
          a && a->kind == agent_kind::router && f.type != flow_type::pipeline) {
        rep.error(at(fmt::format("flow.order.{}", i), fn),
                  fmt::format("router '{}' cannot take turns in 'flow.order'", a->name),
                  "routers choose speakers; list only the agents that speak");
      }
    }
    const auto speakers = s.speakers();
    auto in_speakers = [&](const std::string& n) {
      for (const auto& sp : speakers)
        if (sp == n) return true;
      return false;
    };
    if (f.type != flow_type::pipeline && speakers.empty() && !s.agents.empty()) {
      rep.error(fn, fmt::format("{} flow has no speakers", to_string(f.type)),
                "add agents that are not routers, or list them in 'flow.order'");
    }
    if (!f.start.empty() && need_agent(f.start, at("flow.start", fn), "'flow.start'") &&
        !in_speakers(f.start)) {
      rep.error(at("flow.start", fn), fmt::format("'flow.start' agent '{}' is not a speaker", f.start),
                "add it to 'flow.order'");
    }
    if (!f.fallback.empty()) need_agent(f.fallback, at("flow.fallback", fn), "'flow.fallback'");
    const bool needs_opening = f.type == flow_type::broadcast || f.type == flow_type::pipeline ||
                               f.type == flow_type::free_form;
    if (needs_opening && f.opening.empty()) {
      rep.error(fn, fmt::format("{} flow needs an opening message", to_string(f.type)),
                "add 'opening: \"...\"' under 'flow:' (the message that starts it)");
    }
    switch (f.type) {
    case flow_type::round_robin:
      unused_flow_keys({"order", "start"});
      break;
    case flow_type::broadcast:
      unused_flow_keys({"order", "topic"});
      break;
    case flow_type::selector: {
      unused_flow_keys({"order", "router", "start"});
      if (f.router.empty()) {
        rep.error(fn, "selector flow needs a router", "add 'router: NAME' naming a kind: router agent");
      } else if (const auto* r = need_agent(f.router, at("flow.router", fn), "'flow.router'")) {
        if (r->kind != agent_kind::router)
          rep.error(at("flow.router", fn),
                    fmt::format("'flow.router' agent '{}' is {}, not a router", r->name, to_string(r->kind)),
                    "set its kind: router");
        for (const auto& rule : r->rules)
          if (s.find_agent(rule.next) && !in_speakers(rule.next))
            rep.error(r->at, {}, fmt::format("router '{}' may choose '{}', which is not a speaker",
                                             r->name, rule.next),
                      "add it to 'flow.order'");
      }
      break;
    }
    case flow_type::handoff:
      unused_flow_keys({"order", "start", "fallback"});
      if (speakers.size() < 2) {
        rep.error(fn, fmt::format("handoff flow needs at least two speakers, has {}", speakers.size()),
                  "an agent can only hand off to another agent");
      }
      break;
    case flow_type::pipeline:
      unused_flow_keys({"stages", "rounds"});
      if (f.stages.empty()) {
        rep.error(fn, "pipeline flow needs 'stages'", "list the agents in order: stages: [a, b]");
      }
      for (std::size_t i = 0; i < f.stages.size(); ++i) {
        const auto& n = at(fmt::format("flow.stages.{}", i), fn);
        if (const auto* a = need_agent(f.stages[i], n, "pipeline stage");
            a && a->kind == agent_kind::router)
          rep.error(n, fmt::format("router '{}' cannot be a pipeline stage", a->name),
                    "stages are agents that write text");
      }
      break;
    case flow_type::free_form: {
      unused_flow_keys({"topic"});
      if (f.topic.empty()) {
        rep.error(fn, "free_form flow needs a 'topic'", "the opening message is published there");
        break;
      }
      if (!topic_declared(f.topic)) {
        rep.error(at("flow.topic", fn), fmt::format("'flow.topic' names undeclared topic '{}'", f.topic),
                  hint_for(f.topic, topic_names(), "topics"));
        break;
      }
      bool heard = false;
      for (const auto& a : s.agents)
        for (const auto& p : a.subscribe) heard = heard || topic_matches(p, f.topic);
      if (!heard)
        rep.error(at("flow.topic", fn), fmt::format("no agent subscribes to '{}'", f.topic),
                  "add it to some agent's 'subscribe' list, or nobody would ever speak");
      break;
    }
    }
    if (f.type == flow_type::broadcast && !f.topic.empty() && !topic_declared(f.topic))
      rep.error(at("flow.topic", fn), fmt::format("'flow.topic' names undeclared topic '{}'", f.topic),
                hint_for(f.topic, topic_names(), "topics"));
  }

  static bool bounded(const termination_spec& t) {
    switch (t.type) {
    case termination_spec::kind::stop_phrase: return false;
    case termination_spec::kind::any:
      for (const auto& c : t.children)
        if (bounded(c)) return true;
      return false;
    case termination_spec::kind::all:
      for (const auto& c : t.children)
        if (!bounded(c)) return false;
      return !t.children.empty();
    default: return true;
    }
  }

  void termination() {
    const bool self_ending = s.flow.type == flow_type::pipeline;
    if (!s.termination) {
      if (!self_ending && !root.find("termination"))
        rep.error(root, fmt::format("{} flow needs a 'termination' section", to_string(s.flow.type)),
                  "e.g. termination: {max_turns: 8}");
      return;
    }
    if (!self_ending && !bounded(*s.termination)) {
      rep.error(at("termination", root), "termination may never happen: only stop phrases can end it",
                "add max_turns, max_tokens or timeout_s (with 'any') so the run is bounded");
    }
  }
};

} // namespace

void validate_scenario(const scenario& s, const ynode& root, const ref_marks& refs, reporter& rep) {
  if (!root.is_map()) return;
  checker c{s, root, refs, rep};
  c.agents();
  c.topics();
  c.flow();
  c.termination();
  validate_pools(s, root, rep);
}

} // namespace troupe::runtime::detail
