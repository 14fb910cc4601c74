// Helpers of the plain scenario model.
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

const scenario_agent* scenario::find_agent(std::string_view name) const {
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

} // namespace troupe::runtime
