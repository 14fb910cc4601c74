// agents: one map per agent, with kind-specific options.
#include "decode.hpp"

#include <fmt/format.h>

namespace troupe::runtime::detail {

namespace {

void decode_mailbox(const ynode& n, const std::string& what, reporter& rep, scenario_agent& a) {
  if (n.is_scalar()) {  // "mailbox: 32" is the capacity alone
    std::int64_t cap = 0;
    if (!parse_int(n.value, cap) || cap < 1 || cap > 1000000) {
      rep.error(n, fmt::format("'mailbox' of {} must be a capacity between 1 and 1000000 or a map, got '{}'",
                               what, n.value),
                "mailbox: {capacity: 64, overflow: drop_oldest}");
      return;
    }
    a.mailbox.capacity = static_cast<std::size_t>(cap);
    return;
  }
  if (!expect_map(n, fmt::format("'mailbox' of {}", what), rep)) return;
  map_reader r(n, fmt::format("the mailbox of {}", what), rep, {"capacity", "overflow"});
  std::int64_t cap = 0;
  if (r.integer("capacity", cap, 1, 1000000)) a.mailbox.capacity = static_cast<std::size_t>(cap);
  int policy = 0;
  const overflow_policy policies[] = {overflow_policy::drop_oldest, overflow_policy::drop_newest,
                                      overflow_policy::reject};
  if (r.choice("overflow", {"drop_oldest", "drop_newest", "reject"}, policy))
    a.mailbox.policy = policies[policy];
}

void decode_supervision(const ynode& n, const std::string& what, reporter& rep, scenario_agent& a) {
  const std::vector<std::string> policies{"restart", "stop", "escalate"};
  if (n.is_scalar()) {  // "supervision: stop" is the policy alone
    for (std::size_t i = 0; i < policies.size(); ++i) {
      if (policies[i] == n.value) {
        parse_restart_policy(n.value, a.supervision);
        return;
      }
    }
    const auto guess = closest_match(n.value, policies);
    rep.error(n, fmt::format("'supervision' of {} must be one of restart, stop, escalate; got '{}'",
                             what, n.value),
              guess.empty() ? std::string{"use one of the listed values"}
                            : fmt::format("did you mean '{}'?", guess));
    return;
  }
  if (!expect_map(n, fmt::format("'supervision' of {}", what), rep)) return;
  map_reader r(n, fmt::format("the supervision of {}", what), rep, {"policy", "max_restarts"});
  int policy = 0;
  if (r.choice("policy", policies, policy)) parse_restart_policy(policies[policy], a.supervision);
  r.integer("max_restarts", a.max_restarts, 0, 1000);
}

void decode_rules(const ynode& n, const std::string& what, const std::string& base, reporter& rep,
                  scenario_agent& a, ref_marks& refs) {
  if (!expect_seq(n, fmt::format("'rules' of {}", what), rep)) return;
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const auto& item = n.items[i];
    const auto rwhat = fmt::format("rule #{} of {}", i + 1, what);
    if (!expect_map(item, rwhat, rep)) continue;
    map_reader r(item, rwhat, rep, {"contains", "next"});
    router_rule rule;
    r.str("contains", rule.contains, true);
    if (r.str("next", rule.next, true)) refs[fmt::format("{}.rules.{}", base, i)] = item.find("next");
    if (rule.contains.find_first_of(",:") != std::string::npos)
      rep.error(*item.find("contains"), fmt::format("'contains' in {} may not contain ',' or ':'", rwhat),
                "match a shorter word without the punctuation");
    if (item.find("contains") && rule.contains.empty() && item.find("contains")->is_scalar())
      rep.error(*item.find("contains"), fmt::format("'contains' in {} is empty", rwhat),
                "use 'fallback' on the router for the default choice");
    a.rules.push_back(std::move(rule));
  }
}

} // namespace

void decode_agents(const ynode& list, reporter& rep, scenario& out, ref_marks& refs) {
  if (!expect_seq(list, "'agents'", rep)) return;
  if (list.items.empty()) {
    rep.error(list, "'agents' is empty", "a scenario needs at least one agent");
    return;
  }
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const auto& n = list.items[i];
    const auto base = fmt::format("agents.{}", out.agents.size());
    std::string what = fmt::format("agent #{}", i + 1);
    if (!expect_map(n, what, rep)) continue;
    if (const auto* nm = n.find("name"); nm && nm->is_scalar() && !nm->value.empty())
      what = fmt::format("agent '{}'", nm->value);
    map_reader r(n, what, rep,
                 {"name", "kind", "role", "prompt_template", "profile", "memory_tokens",
                  "subscribe", "publish", "mailbox", "supervision", "script", "rules",
                  "fallback"});
    scenario_agent a;
    a.at = n.at;
    if (r.str("name", a.name, true)) {
      a.at = n.find("name")->at;
      refs[base + ".name"] = n.find("name");
      if (a.name == "host" || a.name == "user") {
        rep.error(*n.find("name"), fmt::format("agent name '{}' is reserved", a.name),
                  "'host' sends the turn requests and 'user' the opening message; pick another name");
      } else if (!valid_name(a.name)) {
        rep.error(*n.find("name"), fmt::format("invalid agent name '{}'", a.name),
                  "use letters, digits, '_' and '-' (names appear in --set paths and HANDOFF lines)");
      }
    }
    int kind = 0;
    bool kind_ok = r.choice("kind", {"llm", "human", "router"}, kind, true);
    if (kind_ok) a.kind = static_cast<agent_kind>(kind);
    else refs[base + ".kind_invalid"] = &n;
    r.str("role", a.role);
    r.str("prompt_template", a.prompt_template);
    if (r.str("profile", a.profile)) refs[base + ".profile"] = n.find("profile");
    r.integer("memory_tokens", a.memory_tokens, 0, 1 << 22);
    if (r.str_list("subscribe", a.subscribe)) refs[base + ".subscribe"] = n.find("subscribe");
    if (r.str("publish", a.publish)) refs[base + ".publish"] = n.find("publish");
    if (const auto* m = n.find("mailbox")) decode_mailbox(*m, what, rep, a);
    if (const auto* s = n.find("supervision")) decode_supervision(*s, what, rep, a);
    r.str_list("script", a.script);
    if (const auto* rules = n.find("rules")) decode_rules(*rules, what, base, rep, a, refs);
    if (r.str("fallback", a.fallback)) refs[base + ".fallback"] = n.find("fallback");
    if (kind_ok) {
      auto only_for = [&](const char* key, agent_kind k) {
        if (const auto* e = n.find(key); e && a.kind != k) {
          rep.key_error(*e, fmt::format("'{}' applies only to {} agents; {} is {}", key,
                                        to_string(k), what, to_string(a.kind)),
                        fmt::format("remove '{}' or set kind: {}", key, to_string(k)));
        }
      };
      only_for("script", agent_kind::human);
      only_for("rules", agent_kind::router);
      only_for("fallback", agent_kind::router);
    }
    out.agents.push_back(std::move(a));
  }
}

} // namespace troupe::runtime::detail
