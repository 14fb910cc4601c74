#include "troupe/runtime/transcript.hpp"

#include <nlohmann/json.hpp>

namespace troupe::runtime {

using nlohmann::json;

result<std::unique_ptr<jsonl_transcript>> jsonl_transcript::open(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return fail(errc::io, "cannot write the transcript file '" + path.string() + "'");
  return std::unique_ptr<jsonl_transcript>(new jsonl_transcript(std::move(out)));
}

void jsonl_transcript::line(const std::string& text) {
  std::lock_guard<std::mutex> guard{mutex_};
  out_ << text << '\n';
  out_.flush();
  ++lines_;
}

std::size_t jsonl_transcript::lines() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return lines_;
}

namespace {
// Invalid UTF-8 (from a model or a script) is replaced, never thrown on.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
} // namespace

void jsonl_transcript::write_start(const scenario& s, std::uint64_t seed) {
  json agents = json::array();
  for (const auto& a : s.agents)
    agents.push_back({{"name", a.name}, {"kind", std::string{to_string(a.kind)}}, {"profile", a.profile}});
  line(dump({{"type", "run_start"}, {"scenario", s.name}, {"file", s.file}, {"seed", seed},
             {"flow", std::string{to_string(s.flow.type)}}, {"agents", agents},
             {"timestamp_ms", now_ms()}}));
}

void jsonl_transcript::write_message(const conducted_message& m) {
  json j = {{"type", "message"},         {"version", envelope_version}, {"id", m.id},
            {"turn", m.turn},            {"sender", m.speaker},         {"recipients", m.to},
            {"topic", m.topic},          {"timestamp_ms", m.timestamp_ms}, {"content", m.text},
            {"tokens", m.tokens},        {"tokens_exact", m.tokens_exact},
            {"latency_ms", m.latency_ms}};
  if (!m.handoff.empty()) j["handoff"] = m.handoff;
  line(dump(j));
}

void jsonl_transcript::write_route(const std::string& router, const std::string& choice) {
  line(dump({{"type", "route"}, {"router", router}, {"choice", choice}, {"timestamp_ms", now_ms()}}));
}

void jsonl_transcript::write_event(const runtime_event& e) {
  if (e.type == event_type::delivered) return;
  json j = {{"type", "event"}, {"event", to_string(e.type)}, {"agent", e.agent},
            {"detail", e.detail}, {"timestamp_ms", e.timestamp_ms}};
  if (e.message) {
    j["message"] = {{"id", e.message->id}, {"sender", e.message->sender},
                    {"recipient", e.message->recipient}, {"topic", e.message->topic},
                    {"kind", to_string(e.message->kind)}};
  }
  line(dump(j));
}

void jsonl_transcript::write_end(const run_summary& r) {
  json agents = json::object();
  for (const auto& [name, t] : r.agents)
    agents[name] = {{"turns", t.turns}, {"tokens", t.tokens}, {"latency_ms", t.latency_ms}};
  line(dump({{"type", "run_end"}, {"reason", r.reason}, {"failed", r.failed}, {"turns", r.turns},
             {"tokens", r.tokens}, {"wall_s", r.wall_s}, {"agents", agents},
             {"timestamp_ms", now_ms()}}));
}

} // namespace troupe::runtime
