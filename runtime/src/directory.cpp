// Agent names and topic subscriptions.
#include <algorithm>

#include <fmt/format.h>

#include "core.hpp"
#include "troupe/runtime/topic.hpp"

namespace troupe::runtime::detail {

agent_cell::agent_cell(agent_spec s, agent_factory f, core& c, bool is_internal)
    : spec(std::move(s)), factory(std::move(f)), inbox(spec.mailbox),
      memory(spec.memory_tokens), owner(c), internal(is_internal) {}

result<void> directory::add(const cell_ptr& cell) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto [it, inserted] = agents_.emplace(cell->spec.name, cell);
  if (!inserted)
    return fail(errc::duplicate_name, fmt::format("an agent named '{}' already exists", cell->spec.name));
  cell->topics = cell->spec.subscriptions;
  for (const auto& pattern : cell->topics) {
    if (is_wildcard(pattern))
      wildcard_.emplace_back(pattern, cell);
    else
      exact_[pattern].push_back(cell);
  }
  return {};
}

cell_ptr directory::find(std::string_view name) const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  auto i = agents_.find(std::string{name});
  return i == agents_.end() ? nullptr : i->second;
}

cell_ptr directory::remove(std::string_view name, const agent_cell* only) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto i = agents_.find(std::string{name});
  if (i == agents_.end() || (only && i->second.get() != only))
    return nullptr;
  auto cell = i->second;
  agents_.erase(i);
  for (const auto& pattern : cell->topics) {
    if (is_wildcard(pattern)) {
      wildcard_.erase(std::remove_if(wildcard_.begin(), wildcard_.end(),
                                     [&cell](const auto& p) { return p.second == cell; }),
                      wildcard_.end());
    } else if (auto e = exact_.find(pattern); e != exact_.end()) {
      auto& v = e->second;
      v.erase(std::remove(v.begin(), v.end(), cell), v.end());
      if (v.empty())
        exact_.erase(e);
    }
  }
  return cell;
}

result<void> directory::subscribe(std::string_view name, std::string_view pattern) {
  if (auto ok = validate_pattern(pattern); !ok)
    return ok;
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto i = agents_.find(std::string{name});
  if (i == agents_.end())
    return fail(errc::not_found, fmt::format("no agent named '{}'", name));
  auto& subs = i->second->topics;
  if (std::find(subs.begin(), subs.end(), pattern) != subs.end())
    return {};
  subs.emplace_back(pattern);
  i->second->topics_version.fetch_add(1, std::memory_order_release);
  if (is_wildcard(pattern))
    wildcard_.emplace_back(std::string{pattern}, i->second);
  else
    exact_[std::string{pattern}].push_back(i->second);
  return {};
}

result<void> directory::unsubscribe(std::string_view name, std::string_view pattern) {
  std::unique_lock<std::shared_mutex> guard{mutex_};
  auto i = agents_.find(std::string{name});
  if (i == agents_.end())
    return fail(errc::not_found, fmt::format("no agent named '{}'", name));
  auto cell = i->second;
  auto& subs = cell->topics;
  auto s = std::find(subs.begin(), subs.end(), pattern);
  if (s == subs.end())
    return fail(errc::not_found, fmt::format("agent '{}' has no subscription '{}'", name, pattern));
  subs.erase(s);
  cell->topics_version.fetch_add(1, std::memory_order_release);
  if (is_wildcard(pattern)) {
    wildcard_.erase(std::remove_if(wildcard_.begin(), wildcard_.end(),
                                   [&cell, pattern](const auto& p) {
                                     return p.second == cell && p.first == pattern;
                                   }),
                    wildcard_.end());
  } else if (auto e = exact_.find(std::string{pattern}); e != exact_.end()) {
    auto& v = e->second;
    v.erase(std::remove(v.begin(), v.end(), cell), v.end());
    if (v.empty())
      exact_.erase(e);
  }
  return {};
}

std::vector<cell_ptr> directory::matching(std::string_view topic) const {
  std::vector<cell_ptr> out;
  std::shared_lock<std::shared_mutex> guard{mutex_};
  if (auto e = exact_.find(std::string{topic}); e != exact_.end())
    out = e->second;
  bool any_wild = false;
  for (const auto& [pattern, cell] : wildcard_)
    if (topic_matches(pattern, topic)) {
      out.push_back(cell);
      any_wild = true;
    }
  if (any_wild) { // an agent whose patterns overlap gets the message once
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

std::vector<std::string> directory::topics_of(const agent_cell& cell, std::uint64_t& version) const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  version = cell.topics_version.load(std::memory_order_relaxed);
  return cell.topics;
}

std::size_t directory::count(bool with_internal) const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  if (with_internal)
    return agents_.size();
  return static_cast<std::size_t>(std::count_if(
    agents_.begin(), agents_.end(), [](const auto& p) { return !p.second->internal; }));
}

std::vector<std::string> directory::names(bool with_internal) const {
  std::vector<std::string> out;
  {
    std::shared_lock<std::shared_mutex> guard{mutex_};
    for (const auto& [name, cell] : agents_)
      if (with_internal || !cell->internal)
        out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<cell_ptr> directory::all() const {
  std::shared_lock<std::shared_mutex> guard{mutex_};
  std::vector<cell_ptr> out;
  out.reserve(agents_.size());
  for (const auto& [name, cell] : agents_)
    out.push_back(cell);
  return out;
}

} // namespace troupe::runtime::detail
