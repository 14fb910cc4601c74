// A JSONL transcript of a conducted run: one JSON object per line (run_start, message, route,
// event, run_end). Field names follow the envelope (id, sender, recipients, topic,
// timestamp_ms, content).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "troupe/runtime/conductor.hpp"
#include "troupe/runtime/error.hpp"
#include "troupe/runtime/event.hpp"
#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// Writes transcript lines to a file; thread-safe (the runtime observer and the conductor
/// write from different threads). Each line is flushed so a crash keeps what was said.
class jsonl_transcript {
public:
  /// Creates (truncates) `path`; `errc::io` when it cannot be opened.
  static result<std::unique_ptr<jsonl_transcript>> open(const std::filesystem::path& path);

  /// {"type":"run_start", scenario, file, seed, flow, agents}
  void write_start(const scenario& s, std::uint64_t seed);
  /// {"type":"message", id, turn, sender, recipients, topic, timestamp_ms, content, tokens, ...}
  void write_message(const conducted_message& m);
  /// {"type":"route", router, choice}
  void write_route(const std::string& router, const std::string& choice);
  /// {"type":"event", event, agent, detail, timestamp_ms}; `delivered` events are skipped
  /// (every message line already lists its recipients).
  void write_event(const runtime_event& e);
  /// {"type":"run_end", reason, failed, turns, tokens, wall_s, agents}
  void write_end(const run_summary& r);

  /// Lines written so far.
  std::size_t lines() const;

private:
  explicit jsonl_transcript(std::ofstream out) : out_(std::move(out)) {}
  void line(const std::string& json);

  mutable std::mutex mutex_;
  std::ofstream out_;
  std::size_t lines_ = 0;
};

} // namespace troupe::runtime
