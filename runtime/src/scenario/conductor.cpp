// The conductor: flow_controller + termination_tracker over a live runtime.
#include "troupe/runtime/conductor.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>

#include <fmt/format.h>

#include "troupe/runtime/flow_controller.hpp"
#include "troupe/runtime/memory.hpp"
#include "troupe/runtime/termination_tracker.hpp"

namespace troupe::runtime {

namespace {

using clock_type = std::chrono::steady_clock;

/// The smallest timeout_s in a termination tree (0 when none).
double min_timeout_s(const termination_spec& t) {
  double best = t.type == termination_spec::kind::timeout ? t.timeout_s : 0;
  for (const auto& c : t.children) {
    const double m = min_timeout_s(c);
    if (m > 0 && (best == 0 || m < best)) best = m;
  }
  return best;
}

class conductor {
public:
  conductor(runtime& rt, const scenario& s, const conductor_options& o)
      : rt_(rt), s_(s), o_(o), flow_(s), term_(s.termination), start_(clock_type::now()) {
    if (s.termination) timeout_s_ = min_timeout_s(*s.termination);
  }

  run_summary run() {
    deliver_opening();
    while (true) {
      term_.on_elapsed(elapsed_s());
      if (auto r = term_.reason()) return finish(*r, false);
      const auto step = flow_.next();
      switch (step.type) {
      case flow_step::kind::finished:
        return finish(step.reason, false);
      case flow_step::kind::route:
        if (!route(step.agents.front())) return finish(failure_, true);
        break;
      case flow_step::kind::speak:
        if (!speak(step)) return finish(failure_, true);
        break;
      case flow_step::kind::broadcast:
        if (!broadcast(step)) return finish(failure_, true);
        break;
      }
    }
  }

private:
  double elapsed_s() const {
    return std::chrono::duration<double>(clock_type::now() - start_).count();
  }

  std::int64_t ask_timeout_ms() const {
    std::int64_t t = o_.turn_timeout_ms;
    if (timeout_s_ > 0) {
      const auto left = static_cast<std::int64_t>(std::ceil((timeout_s_ - elapsed_s()) * 1000.0));
      t = std::min(t, std::max<std::int64_t>(left, 1));
    }
    return t;
  }

  /// The agents that hear a message of `speaker` directly (everyone but it and the routers).
  std::vector<std::string> audience(const std::string& speaker) const {
    std::vector<std::string> out;
    for (const auto& a : s_.agents)
      if (a.name != speaker && a.kind != agent_kind::router) out.push_back(a.name);
    return out;
  }

  /// Sends a said message to its audience as context (or publishes it, in free_form).
  void deliver(conducted_message& m) {
    if (s_.flow.type == flow_type::free_form) {
      envelope e;
      e.sender = m.speaker;
      e.topic = m.topic;
      e.content = m.text;
      (void)rt_.send(std::move(e));  // nobody subscribed is fine
      return;
    }
    for (const auto& to : audience(m.speaker)) {
      envelope e;
      e.sender = m.speaker;
      e.recipient = to;
      e.content = m.text;
      if (rt_.send(std::move(e))) m.to.push_back(to);  // a full `reject` mailbox misses it
    }
  }

  void deliver_opening() {
    const auto& h = flow_.history();
    if (h.empty()) return;
    conducted_message m;
    m.speaker = h.front().speaker;
    m.text = h.front().text;
    m.topic = s_.flow.type == flow_type::free_form ? s_.flow.topic : std::string{};
    m.timestamp_ms = now_ms();
    m.tokens = static_cast<std::int64_t>(approximate_token_count(m.text));
    deliver(m);
    if (o_.callbacks.on_message) o_.callbacks.on_message(m);
  }

  /// Sends one "your turn" request; the future gets the reply or the error.
  std::future<result<envelope>> ask_async(const std::string& to, std::string content,
                                          std::map<std::string, std::string> metadata) {
    auto done = std::make_shared<std::promise<result<envelope>>>();
    auto fut = done->get_future();
    rt_.request(to, std::move(content), ask_timeout_ms(),
                [done](result<envelope> r) { done->set_value(std::move(r)); }, std::move(metadata));
    return fut;
  }

  result<envelope> wait(std::future<result<envelope>>& f, const std::string& to) {
    if (rt_.deterministic()) {
      // The test coordinator only runs when driven from here.
      while (f.wait_for(std::chrono::seconds{0}) != std::future_status::ready) {
        if (rt_.run_pending() == 0 && rt_.advance_time_ms(1000) == 0 &&
            f.wait_for(std::chrono::seconds{0}) != std::future_status::ready) {
          return fail(errc::timeout, fmt::format("no answer from '{}' and nothing left to run", to));
        }
      }
      return f.get();
    }
    const auto grace = std::chrono::milliseconds{ask_timeout_ms() + 10000};
    if (f.wait_for(grace) != std::future_status::ready)
      return fail(errc::timeout, fmt::format("no answer from '{}'", to));
    return f.get();
  }

  std::string turn_cue(const std::string& speaker, const std::string& topic) const {
    if (!topic.empty() && s_.flow.type == flow_type::free_form)
      return fmt::format("{}, there is news on '{}'; your turn.", speaker, topic);
    return fmt::format("{}, your turn.", speaker);
  }

  /// Turns a reply into a recorded, delivered message. False (with failure_) on an error.
  bool take(const std::string& speaker, result<envelope> reply, clock_type::time_point asked,
            const std::string& topic) {
    const double latency_ms = std::chrono::duration<double, std::milli>(clock_type::now() - asked).count();
    if (!reply) {
      term_.on_elapsed(elapsed_s());
      if (reply.error().code == errc::timeout && term_.reason()) return true;  // timeout_s hit
      const auto& msg = reply.error().message;
      failure_ = msg.find(fmt::format("'{}'", speaker)) != std::string::npos
                     ? msg
                     : fmt::format("agent '{}' failed: {}", speaker, msg);
      return false;
    }
    if (auto err = reply->metadata.find("error"); err != reply->metadata.end()) {
      failure_ = fmt::format("agent '{}' failed: {}", speaker, reply->content.empty() ? err->second : reply->content);
      return false;
    }
    conducted_message m;
    m.turn = flow_.turns() + 1;
    m.speaker = speaker;
    m.text = reply->content;
    m.id = reply->id;
    m.timestamp_ms = reply->timestamp_ms;
    m.latency_ms = latency_ms;
    if (auto t = reply->metadata.find("completion_tokens"); t != reply->metadata.end()) {
      m.tokens = std::atoll(t->second.c_str());
      m.tokens_exact = true;
    } else {
      m.tokens = static_cast<std::int64_t>(approximate_token_count(m.text));
    }
    turn_event ev{speaker, m.text, {}, topic};
    if (auto h = reply->metadata.find("handoff"); h != reply->metadata.end()) ev.handoff = h->second;
    flow_.record(ev);
    m.topic = flow_.history().back().topic;
    m.handoff = flow_.history().back().handoff;
    if (s_.flow.type != flow_type::free_form) m.topic.clear();
    deliver(m);
    term_.on_message(speaker, m.text, m.tokens);
    auto& totals = summary_.agents[speaker];
    ++totals.turns;
    totals.tokens += m.tokens;
    totals.latency_ms += latency_ms;
    if (o_.callbacks.on_message) o_.callbacks.on_message(m);
    return true;
  }

  bool speak(const flow_step& step) {
    const auto& who = step.agents.front();
    if (o_.callbacks.on_turn_start) o_.callbacks.on_turn_start(who, flow_.turns() + 1);
    const auto asked = clock_type::now();
    auto f = ask_async(who, turn_cue(who, step.topic), {{"turn", std::to_string(flow_.turns() + 1)}});
    return take(who, wait(f, who), asked, step.topic);
  }

  bool broadcast(const flow_step& step) {
    // Everyone answers the same state: ask all, then record the replies in order.
    const auto asked = clock_type::now();
    std::vector<std::future<result<envelope>>> pending;
    for (const auto& who : step.agents)
      pending.push_back(ask_async(who, turn_cue(who, {}), {{"turn", std::to_string(flow_.turns() + 1)}}));
    for (std::size_t i = 0; i < step.agents.size(); ++i) {
      if (o_.callbacks.on_turn_start) o_.callbacks.on_turn_start(step.agents[i], flow_.turns() + 1);
      if (!take(step.agents[i], wait(pending[i], step.agents[i]), asked, step.topic)) return false;
      term_.on_elapsed(elapsed_s());
      if (term_.reason()) return true;
    }
    return true;
  }

  bool route(const std::string& router) {
    const auto& h = flow_.history();
    std::string candidates;
    for (const auto& sp : s_.speakers()) candidates += (candidates.empty() ? "" : ",") + sp;
    auto f = ask_async(router, h.empty() ? std::string{} : h.back().text, {{"candidates", candidates}});
    auto reply = wait(f, router);
    if (!reply || reply->metadata.count("error")) {
      failure_ = fmt::format("router '{}' failed: {}", router,
                             reply ? reply->content : reply.error().message);
      return false;
    }
    auto choice = reply->metadata.count("next") ? reply->metadata.at("next") : reply->content;
    if (auto ok = flow_.choose(choice); !ok) {
      failure_ = ok.error();
      return false;
    }
    if (o_.callbacks.on_route) o_.callbacks.on_route(router, choice);
    return true;
  }

  run_summary finish(std::string reason, bool failed) {
    summary_.reason = std::move(reason);
    summary_.failed = failed;
    summary_.turns = static_cast<std::size_t>(term_.turns());
    summary_.tokens = term_.tokens();
    summary_.wall_s = elapsed_s();
    return summary_;
  }

  runtime& rt_;
  const scenario& s_;
  const conductor_options& o_;
  flow_controller flow_;
  termination_tracker term_;
  clock_type::time_point start_;
  double timeout_s_ = 0;
  std::string failure_;
  run_summary summary_;
};

} // namespace

run_summary conduct(runtime& rt, const scenario& s, const conductor_options& options) {
  return conductor(rt, s, options).run();
}

} // namespace troupe::runtime
