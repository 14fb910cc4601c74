#include "troupe/runtime/kind_registry.hpp"

#include <fmt/format.h>

namespace troupe::runtime {

result<void> kind_registry::add(std::string kind, agent_factory factory) {
  if (kind.empty() || !factory)
    return fail(errc::invalid_argument, "agent kind needs a name and a factory");
  std::lock_guard<std::mutex> guard{mutex_};
  if (factories_.count(kind) != 0)
    return fail(errc::duplicate_name, fmt::format("agent kind '{}' is already registered", kind));
  factories_.emplace(std::move(kind), std::move(factory));
  return {};
}

void kind_registry::set(std::string kind, agent_factory factory) {
  std::lock_guard<std::mutex> guard{mutex_};
  factories_[std::move(kind)] = std::move(factory);
}

result<agent_factory> kind_registry::find(std::string_view kind) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto i = factories_.find(kind);
  if (i == factories_.end()) {
    std::string known;
    for (const auto& [name, f] : factories_)
      known += (known.empty() ? "" : ", ") + name;
    return fail(errc::unknown_kind,
                fmt::format("unknown agent kind '{}' (registered: {})", kind,
                            known.empty() ? "none" : known));
  }
  return i->second;
}

bool kind_registry::contains(std::string_view kind) const {
  std::lock_guard<std::mutex> guard{mutex_};
  return factories_.find(kind) != factories_.end();
}

std::vector<std::string> kind_registry::names() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> out;
  for (const auto& [name, f] : factories_)
    out.push_back(name);
  return out;
}

} // namespace troupe::runtime
