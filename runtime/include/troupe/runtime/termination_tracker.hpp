// When a conversation ends: a scenario's termination condition tree, fed with each message
// and the elapsed time. Deterministic: the caller supplies time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "troupe/runtime/scenario.hpp"

namespace troupe::runtime {

/// Tracks turns, tokens, elapsed time and stop phrases against a termination_spec.
/// Conditions latch: a stop phrase once said stays said, so `all` of several can be met at
/// different times.
class termination_tracker {
public:
  /// No spec: never ends by itself (a pipeline ends through its flow).
  explicit termination_tracker(std::optional<termination_spec> spec);

  /// A message of `tokens` generated tokens was said.
  void on_message(const std::string& speaker, const std::string& text, std::int64_t tokens);

  /// Seconds since the run started.
  void on_elapsed(double seconds) { elapsed_s_ = seconds; }

  /// Why the run must end now, or nullopt when it may go on.
  [[nodiscard]] std::optional<std::string> reason() const;

  [[nodiscard]] std::int64_t turns() const { return turns_; }
  [[nodiscard]] std::int64_t tokens() const { return tokens_; }

private:
  std::optional<std::string> eval(const termination_spec& t) const;
  void scan(const termination_spec& t, const std::string& speaker, const std::string& lowered);

  std::optional<termination_spec> spec_;
  std::int64_t turns_ = 0;
  std::int64_t tokens_ = 0;
  double elapsed_s_ = 0;
  std::vector<std::pair<std::string, std::string>> said_;  // (phrase, who said it) once seen
};

} // namespace troupe::runtime
