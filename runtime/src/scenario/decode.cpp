// Top level, profiles, topics, flow and termination.
#include "decode.hpp"

#include <cctype>

#include <fmt/format.h>

namespace troupe::runtime::detail {

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

namespace {

source_mark mark_of(const ynode& n) { return n.at; }

void decode_profiles(const ynode& n, reporter& rep, scenario& out) {
  if (!expect_map(n, "'profiles'", rep)) return;
  for (const auto& e : n.items) {
    const auto what = fmt::format("profile '{}'", e.key);
    if (!valid_name(e.key)) {
      rep.key_error(e, fmt::format("invalid profile name '{}'", e.key),
                    "use letters, digits, '_' and '-'");
      continue;
    }
    if (!expect_map(e, what, rep)) continue;
    map_reader r(e, what, rep,
                 {"model", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed",
                  "max_tokens", "stop", "context_tokens", "pool"});
    inference_profile p;
    p.name = e.key;
    p.at = e.key_at;
    r.str("model", p.model, true);
    r.real("temperature", p.temperature, 0.0, 10.0);
    r.integer("top_k", p.top_k, 0, 1 << 20);
    r.real("top_p", p.top_p, 0.0, 1.0, true);
    r.real("min_p", p.min_p, 0.0, 1.0);
    r.real("repeat_penalty", p.repeat_penalty, 0.0, 10.0, true);
    std::int64_t seed = 0;
    if (r.integer("seed", seed, 0, INT64_MAX)) p.seed = static_cast<std::uint64_t>(seed);
    r.integer("max_tokens", p.max_tokens, 1, 1 << 20);
    r.str_list("stop", p.stop);
    r.integer("context_tokens", p.context_tokens, 16, 1 << 22);
    r.str("pool", p.pool);
    for (const auto& s : p.stop) {
      if (s.empty()) rep.error(*e.find("stop"), fmt::format("empty stop string in {}", what),
                               "an empty stop string would end every generation at once");
    }
    if (p.model.empty() && e.find("model") && e.find("model")->is_scalar())
      rep.error(*e.find("model"), fmt::format("'model' in {} is empty", what),
                "give a GGUF file path, e.g. ${TROUPE_MODEL:-models/troupe-small.gguf}");
    out.profiles[p.name] = std::move(p);
  }
}

bool valid_topic(const std::string& t, bool pattern) {
  if (t.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = t.find('.', start);
    const auto seg = t.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (seg.empty()) return false;
    if (!(pattern && (seg == "*" || seg == "**")) && !valid_name(seg)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

void decode_topics(const ynode& n, reporter& rep, scenario& out) {
  if (!expect_seq(n, "'topics'", rep)) return;
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const auto& item = n.items[i];
    topic_spec t;
    t.at = mark_of(item);
    if (item.is_scalar()) {
      t.name = item.value;
    } else if (item.is_map()) {
      map_reader r(item, fmt::format("topic #{}", i + 1), rep, {"name", "description"});
      r.str("name", t.name, true);
      r.str("description", t.description);
      if (const auto* nm = item.find("name")) t.at = nm->at;
    } else {
      rep.error(item, fmt::format("topic #{} must be a name or a map, got {}", i + 1,
                                  describe(item.type)));
      continue;
    }
    if (!t.name.empty() && !valid_topic(t.name, false)) {
      rep.error(item.is_map() ? *item.find("name") : item,
                fmt::format("invalid topic name '{}'", t.name),
                "dot-separated segments of letters, digits, '_' and '-' (no wildcards)");
      continue;
    }
    if (!t.name.empty()) out.topics.push_back(std::move(t));
  }
}

void decode_flow(const ynode& n, reporter& rep, scenario& out, ref_marks& refs) {
  if (!expect_map(n, "'flow'", rep)) return;
  map_reader r(n, "'flow'", rep,
               {"type", "order", "router", "start", "stages", "rounds", "fallback", "topic",
                "opening", "opening_from"});
  auto& f = out.flow;
  f.at = n.at;
  int type = -1;
  if (r.choice("type", {"round_robin", "broadcast", "selector", "handoff", "pipeline", "free_form"},
               type, true))
    f.type = static_cast<flow_type>(type);
  else
    refs["flow.type.invalid"] = &n;
  r.str_list("order", f.order);
  r.str("router", f.router);
  r.str("start", f.start);
  r.str_list("stages", f.stages);
  r.integer("rounds", f.rounds, 1, 1000);
  r.str("fallback", f.fallback);
  r.str("topic", f.topic);
  r.str("opening", f.opening);
  r.str("opening_from", f.opening_from);
  for (const char* k : {"router", "start", "fallback", "topic", "opening", "rounds"}) {
    if (const auto* e = n.find(k)) refs[fmt::format("flow.{}", k)] = e;
  }
  for (const char* k : {"order", "stages"}) {
    if (const auto* e = n.find(k)) {
      refs[fmt::format("flow.{}", k)] = e;
      for (std::size_t i = 0; i < e->items.size(); ++i)
        refs[fmt::format("flow.{}.{}", k, i)] = &e->items[i];
    }
  }
}

} // namespace

bool decode_termination(const ynode& n, reporter& rep, termination_spec& out) {
  if (!expect_map(n, "a termination condition", rep)) return false;
  map_reader r(n, "'termination'", rep,
               {"max_turns", "max_tokens", "stop_phrase", "timeout_s", "any", "all"});
  std::vector<termination_spec> kids;
  bool ok = true;
  for (const auto& e : n.items) {
    termination_spec c;
    c.at = e.key_at;
    if (e.key == "max_turns" || e.key == "max_tokens") {
      c.type = e.key == "max_turns" ? termination_spec::kind::max_turns
                                    : termination_spec::kind::max_tokens;
      ok = r.integer(e.key, c.limit, 1, INT64_MAX / 2, true) && ok;
    } else if (e.key == "timeout_s") {
      c.type = termination_spec::kind::timeout;
      ok = r.real(e.key, c.timeout_s, 0.0, 1e7, true, true) && ok;
    } else if (e.key == "stop_phrase") {
      std::vector<std::string> phrases;
      if (!r.str_list(e.key, phrases, true)) {
        ok = false;
        continue;
      }
      for (auto& p : phrases) {
        if (p.empty()) {
          rep.error(e, "'stop_phrase' in 'termination' is empty",
                    "an empty phrase would match every message");
          ok = false;
          continue;
        }
        termination_spec s;
        s.type = termination_spec::kind::stop_phrase;
        s.phrase = std::move(p);
        s.at = e.key_at;
        kids.push_back(std::move(s));
      }
      continue;
    } else if (e.key == "any" || e.key == "all") {
      c.type = e.key == "any" ? termination_spec::kind::any : termination_spec::kind::all;
      if (!expect_seq(e, fmt::format("'{}' in 'termination'", e.key), rep)) {
        ok = false;
        continue;
      }
      if (e.items.empty()) {
        rep.error(e, fmt::format("'{}' in 'termination' has no conditions", e.key),
                  "list at least one condition, e.g. - max_turns: 8");
        ok = false;
      }
      for (const auto& item : e.items) {
        termination_spec child;
        if (decode_termination(item, rep, child)) c.children.push_back(std::move(child));
        else ok = false;
      }
    } else {
      ok = false;  // unknown key, already reported
      continue;
    }
    kids.push_back(std::move(c));
  }
  if (n.items.empty()) {
    rep.error(n, "termination condition is empty",
              "give max_turns, max_tokens, stop_phrase, timeout_s, any or all");
    return false;
  }
  if (!ok) return false;
  if (kids.size() == 1) {
    out = std::move(kids.front());
  } else {
    out = termination_spec{};
    out.type = termination_spec::kind::any;  // several keys in one map: the first one met ends it
    out.at = n.at;
    out.children = std::move(kids);
  }
  return true;
}

void decode_scenario(const ynode& root, reporter& rep, scenario& out, ref_marks& refs) {
  if (!expect_map(root, "a scenario", rep)) return;
  map_reader r(root, "the scenario", rep,
               {"name", "description", "seed", "profiles", "pools", "topics", "agents", "flow",
                "termination"});
  r.str("name", out.name, true);
  r.str("description", out.description);
  std::int64_t seed = 0;
  if (r.integer("seed", seed, 0, INT64_MAX)) out.seed = static_cast<std::uint64_t>(seed);
  if (const auto* p = r.get("profiles"); p && p->type != ynode::kind::null)
    decode_profiles(*p, rep, out);
  if (const auto* p = r.get("pools"); p && p->type != ynode::kind::null)
    decode_pools(*p, rep, out);
  if (const auto* t = r.get("topics"); t && t->type != ynode::kind::null)
    decode_topics(*t, rep, out);
  if (const auto* a = r.get("agents", true)) decode_agents(*a, rep, out, refs);
  if (const auto* f = r.get("flow", true)) decode_flow(*f, rep, out, refs);
  if (const auto* t = r.get("termination"); t && t->type != ynode::kind::null) {
    termination_spec spec;
    if (decode_termination(*t, rep, spec)) out.termination = std::move(spec);
    refs["termination"] = t;
  }
}

} // namespace troupe::runtime::detail
