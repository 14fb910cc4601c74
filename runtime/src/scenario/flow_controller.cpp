#include "troupe/runtime/flow_controller.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "troupe/runtime/topic.hpp"

namespace troupe::runtime {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s, const char* chars = " \t\r") {
  const auto b = s.find_first_not_of(chars);
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

} // namespace

std::string parse_handoff(const std::string& text) {
  std::string found;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    const auto line = trim(text.substr(start, nl - start), " \t\r*_>-");
    if (lower(line.substr(0, 8)) == "handoff:") {
      auto rest = trim(line.substr(8), " \t*_");
      rest = rest.substr(0, rest.find_first_of(" \t"));
      found = trim(rest, "\"'`*.,;:!?()[]<>");
    }
    start = nl + 1;
  }
  return found;
}

flow_controller::flow_controller(const scenario& s) : s_(s) {
  speakers_ = s_.flow.type == flow_type::pipeline ? s_.flow.stages : s_.speakers();
  if (!s_.flow.opening.empty())
    history_.push_back({s_.flow.opening_from, s_.flow.opening, {}, s_.flow.topic});
  if (s_.flow.type == flow_type::free_form) wake_subscribers(s_.flow.topic, s_.flow.opening_from);
}

bool flow_controller::is_speaker(const std::string& name) const {
  return std::find(speakers_.begin(), speakers_.end(), name) != speakers_.end();
}

void flow_controller::wake_subscribers(const std::string& topic, const std::string& author) {
  for (const auto& a : s_.agents) {
    if (a.name == author || a.kind == agent_kind::router) continue;
    const bool queued = std::any_of(wake_.begin(), wake_.end(),
                                    [&](const auto& w) { return w.first == a.name; });
    if (queued) continue;
    const bool hears = std::any_of(a.subscribe.begin(), a.subscribe.end(),
                                   [&](const std::string& p) { return topic_matches(p, topic); });
    if (hears) wake_.emplace_back(a.name, topic);
  }
}

flow_step flow_controller::next() const {
  using k = flow_step::kind;
  if (!finished_.empty()) return {k::finished, {}, {}, finished_};
  if (speakers_.empty()) return {k::finished, {}, {}, "the flow has no speakers"};
  const auto& f = s_.flow;
  switch (f.type) {
  case flow_type::round_robin:
    return {k::speak, {speakers_[position_ % speakers_.size()]}, f.topic, {}};
  case flow_type::broadcast:
    return {k::broadcast, speakers_, f.topic, {}};
  case flow_type::selector:
    if (next_) return {k::speak, {*next_}, f.topic, {}};
    if (turns_ == 0 && !f.start.empty()) return {k::speak, {f.start}, f.topic, {}};
    return {k::route, {f.router}, f.topic, {}};
  case flow_type::handoff:
    if (next_) return {k::speak, {*next_}, f.topic, {}};
    return {k::speak, {f.start.empty() ? speakers_.front() : f.start}, f.topic, {}};
  case flow_type::pipeline: {
    const auto total = speakers_.size() * static_cast<std::size_t>(std::max(f.rounds, 1));
    if (position_ >= total)
      return {k::finished, {}, {}, fmt::format("pipeline complete ({} stages)", total)};
    return {k::speak, {speakers_[position_ % speakers_.size()]}, f.topic, {}};
  }
  case flow_type::free_form:
    if (wake_.empty()) return {k::finished, {}, {}, "no agent has anything to react to"};
    return {k::speak, {wake_.front().first}, wake_.front().second, {}};
  }
  return {k::finished, {}, {}, "unknown flow type"};
}

void flow_controller::record(const turn_event& in) {
  turn_event e = in;
  ++turns_;
  const auto& f = s_.flow;
  switch (f.type) {
  case flow_type::round_robin:
  case flow_type::pipeline:
    ++position_;
    break;
  case flow_type::broadcast:
    if (++broadcast_answers_ >= speakers_.size()) broadcast_answers_ = 0;
    break;
  case flow_type::selector:
    next_.reset();
    break;
  case flow_type::handoff: {
    next_.reset();
    const auto target = e.handoff.empty() ? parse_handoff(e.text) : e.handoff;
    if (!target.empty() && is_speaker(target)) {
      next_ = target;
      e.handoff = target;
    } else if (!f.fallback.empty()) {
      next_ = f.fallback;
    } else if (target.empty()) {
      finished_ = fmt::format("{} handed off to nobody", e.speaker);
    } else {
      finished_ = fmt::format("{} handed off to unknown agent '{}'", e.speaker, target);
    }
    break;
  }
  case flow_type::free_form: {
    const auto it = std::find_if(wake_.begin(), wake_.end(),
                                 [&](const auto& w) { return w.first == e.speaker; });
    if (it != wake_.end()) wake_.erase(it);
    const auto* a = s_.find_agent(e.speaker);
    e.topic = a && !a->publish.empty() ? a->publish : f.topic;
    wake_subscribers(e.topic, e.speaker);
    break;
  }
  }
  history_.push_back(std::move(e));
}

tl::expected<void, std::string> flow_controller::choose(const std::string& agent) {
  if (!is_speaker(agent)) {
    return tl::make_unexpected(
        fmt::format("router '{}' chose '{}', which is not a speaker of this flow", s_.flow.router, agent));
  }
  next_ = agent;
  return {};
}

} // namespace troupe::runtime
