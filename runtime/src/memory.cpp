#include "troupe/runtime/memory.hpp"

#include <cctype>

namespace troupe::runtime {

std::size_t approximate_token_count(std::string_view text) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word)
      ++words;
    in_word = !space;
  }
  std::size_t by_bytes = (text.size() + 3) / 4;
  return words > by_bytes ? words : by_bytes;
}

conversation_memory::conversation_memory(std::size_t token_budget, token_counter counter)
    : budget_(token_budget), counter_(std::move(counter)) {}

std::size_t conversation_memory::count(std::string_view text) const {
  return counter_ ? counter_(text) : approximate_token_count(text);
}

void conversation_memory::add(chat_message message) {
  if (budget_ == 0) {
    ++evicted_;
    return;
  }
  std::size_t n = count(message.content) + 1; // +1 for the role marker
  entries_.push_back(entry{std::move(message), n});
  tokens_ += n;
  evict();
}

void conversation_memory::evict() {
  std::size_t drop = 0;
  while (tokens_ > budget_ && entries_.size() - drop > 1) {
    tokens_ -= entries_[drop].tokens;
    ++drop;
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(drop));
  evicted_ += drop;
}

std::vector<chat_message> conversation_memory::messages() const {
  std::vector<chat_message> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_)
    out.push_back(e.message);
  return out;
}

void conversation_memory::clear() {
  entries_.clear();
  tokens_ = 0;
}

void conversation_memory::set_counter(token_counter counter) {
  counter_ = std::move(counter);
  tokens_ = 0;
  for (auto& e : entries_) {
    e.tokens = count(e.message.content) + 1;
    tokens_ += e.tokens;
  }
  evict();
}

} // namespace troupe::runtime
