// An agent's conversation history, kept within a token budget.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::runtime {

/// Counts the tokens of a text. Pluggable so that a real tokenizer can be wired in.
using token_counter = std::function<std::size_t(std::string_view)>;

/// The default counter until a model's tokenizer is wired in: an APPROXIMATION, the larger of
/// the whitespace-separated word count and ceil(bytes / 4). Not exact for any model.
std::size_t approximate_token_count(std::string_view text);

/// One turn of a conversation ("system", "user", "assistant", ...).
struct chat_message {
  std::string role;    ///< "system", "user" or "assistant"
  std::string content; ///< the text
};

/// Conversation history bounded by a token budget: adding a message evicts the oldest ones
/// until the total fits (a single message larger than the budget is kept alone). Owned by one
/// agent and used only from its handlers (not thread-safe).
class conversation_memory {
public:
  /// `token_budget` 0 means no history is kept.
  explicit conversation_memory(std::size_t token_budget = 4096, token_counter counter = {});

  /// Appends a message, then evicts the oldest ones beyond the budget.
  void add(chat_message message);
  /// The history, oldest first.
  std::vector<chat_message> messages() const;
  /// Number of messages held.
  std::size_t size() const { return entries_.size(); }
  /// Tokens held (by this memory's counter).
  std::size_t tokens() const { return tokens_; }
  /// The budget in tokens.
  std::size_t token_budget() const { return budget_; }
  /// Messages evicted so far.
  std::size_t evicted() const { return evicted_; }
  /// Forgets everything.
  void clear();
  /// Replaces the counter (recounts what is held).
  void set_counter(token_counter counter);

private:
  struct entry {
    chat_message message;
    std::size_t tokens;
  };
  std::size_t count(std::string_view text) const;
  void evict();
  std::vector<entry> entries_; ///< a vector: an idle agent's empty history allocates nothing
  std::size_t budget_;
  std::size_t tokens_ = 0;
  std::size_t evicted_ = 0;
  token_counter counter_;
};

} // namespace troupe::runtime
