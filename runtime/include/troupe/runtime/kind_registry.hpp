// Agent kinds by name: a factory per kind, so C++ code can add its own kinds.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/runtime/agent.hpp"

namespace troupe::runtime {

/// A thread-safe map from kind name to agent factory.
class kind_registry {
public:
  /// Registers `factory` under `kind`; fails with `duplicate_name` if taken.
  result<void> add(std::string kind, agent_factory factory);
  /// Registers or replaces.
  void set(std::string kind, agent_factory factory);
  /// The factory for `kind`, or `unknown_kind`.
  result<agent_factory> find(std::string_view kind) const;
  /// True when `kind` is registered.
  bool contains(std::string_view kind) const;
  /// Registered kind names, sorted.
  std::vector<std::string> names() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, agent_factory, std::less<>> factories_;
};

} // namespace troupe::runtime
