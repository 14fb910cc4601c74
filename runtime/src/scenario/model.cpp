// Helpers of the plain scenario model.
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

const agent_spec* scenario::find_agent(std::string_view name) const {
  for (const auto& a : agents)
    if (a.name == name) return &a;
  return nullptr;
}

std::vector<std::string> scenario::speakers() const {
  if (!flow.order.empty()) return flow.order;
  std::vector<std::string> out;
  for (const auto& a : agents)
    if (a.kind != agent_kind::router) out.push_back(a.name);
  return out;
}

namespace {

std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

bool match_from(const std::vector<std::string_view>& p, std::size_t i,
                const std::vector<std::string_view>& t, std::size_t j) {
  if (i == p.size()) return j == t.size();
  if (p[i] == "**") {
    for (std::size_t k = j; k <= t.size(); ++k)
      if (match_from(p, i + 1, t, k)) return true;
    return false;
  }
  if (j == t.size()) return false;
  if (p[i] != "*" && p[i] != t[j]) return false;
  return match_from(p, i + 1, t, j + 1);
}

} // namespace

bool topic_matches(std::string_view pattern, std::string_view topic) {
  return match_from(segments(pattern), 0, segments(topic), 0);
}

std::string_view to_string(agent_kind k) {
  switch (k) {
  case agent_kind::llm: return "llm";
  case agent_kind::human: return "human";
  case agent_kind::router: return "router";
  }
  return "?";
}

std::string_view to_string(flow_type t) {
  switch (t) {
  case flow_type::round_robin: return "round_robin";
  case flow_type::broadcast: return "broadcast";
  case flow_type::selector: return "selector";
  case flow_type::handoff: return "handoff";
  case flow_type::pipeline: return "pipeline";
  case flow_type::free_form: return "free_form";
  }
  return "?";
}

std::string_view to_string(overflow_policy p) {
  switch (p) {
  case overflow_policy::drop_oldest: return "drop_oldest";
  case overflow_policy::drop_newest: return "drop_newest";
  case overflow_policy::reject: return "reject";
  }
  return "?";
}

std::string_view to_string(supervision_policy p) {
  switch (p) {
  case supervision_policy::restart: return "restart";
  case supervision_policy::stop: return "stop";
  case supervision_policy::escalate: return "escalate";
  }
  return "?";
}

} // namespace troupe::runtime
