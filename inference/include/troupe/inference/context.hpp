// The fast forward pass: a context owns a KV cache for several sequences and a thread pool,
// and runs batches in which each entry appends tokens to one sequence. Prefill (many tokens of
// one sequence) and decode (one token of each of many sequences) are the same code path: all
// tokens of a batch go through every weight matrix together (matrix-matrix products), and
// attention reads each token's own sequence from the cache.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/model.hpp"

namespace troupe::inference {

class thread_pool;
class kv_cache;

/// Identifies a sequence inside one context.
using seq_id = std::int32_t;

/// Which logits a batch entry wants back.
enum class logits_mode {
  none,  ///< none (a prompt chunk that is not the last)
  last,  ///< the last token's (the usual prefill / decode case)
  all,   ///< every token's (scoring, tests)
};

/// Tokens to append to one sequence.
struct batch_entry {
  static constexpr std::size_t append = std::numeric_limits<std::size_t>::max();

  seq_id seq = 0;
  std::vector<std::int32_t> tokens;
  /// Position of tokens[0]. `append` (default) means the sequence's current length; a smaller
  /// value first truncates the sequence to that length (rewind / re-generate).
  std::size_t pos = append;
  logits_mode logits = logits_mode::last;
};

/// Work for one decode() call: at most one entry per sequence.
struct batch {
  std::vector<batch_entry> entries;

  /// Adds an entry appending `tokens` to `seq`.
  batch& add(seq_id seq, std::vector<std::int32_t> tokens, logits_mode logits = logits_mode::last) {
    entries.push_back({seq, std::move(tokens), batch_entry::append, logits});
    return *this;
  }
  /// Total tokens across entries.
  [[nodiscard]] std::size_t n_tokens() const;
};

/// Settings of a context.
struct context_params {
  std::size_t n_seq_max = 1;  ///< sequences that can be alive at once
  std::size_t n_ctx = 0;      ///< tokens per sequence; 0 = min(n_ctx_train, 4096)
  std::size_t n_threads = 0;  ///< worker threads; 0 = hardware concurrency
  std::size_t n_batch_max = 512;  ///< tokens computed in one pass; larger batches are split
};

/// Runs a model over batches of sequences. Not thread-safe: one caller at a time.
class context {
public:
  /// A context for `m`; allocates the KV cache (F16, n_seq_max * n_ctx slots per layer).
  [[nodiscard]] static result<std::unique_ptr<context>> create(std::shared_ptr<const model> m,
                                                               context_params params = {});
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// Opens an empty sequence. Error `context_full` when n_seq_max are alive.
  [[nodiscard]] result<seq_id> seq_create();
  /// Drops a sequence and frees its cache.
  result<void> seq_remove(seq_id seq);
  /// Tokens in the cache of `seq`.
  [[nodiscard]] result<std::size_t> seq_length(seq_id seq) const;

  /// Runs a batch. On success `logits_out` holds (n_wanted, n_vocab) row-major: the wanted
  /// rows in entry order, tokens in order within an entry. Everything is checked before
  /// anything changes: unknown sequence / bad token / duplicate sequence -> invalid_argument,
  /// a sequence that would exceed n_ctx -> context_full (the cache is unchanged).
  result<void> decode(const batch& b, std::vector<float>& logits_out);

  [[nodiscard]] const model& get_model() const { return *model_; }
  [[nodiscard]] std::size_t n_ctx() const { return n_ctx_; }
  [[nodiscard]] std::size_t n_vocab() const { return model_->params().n_vocab; }
  [[nodiscard]] std::size_t n_threads() const;

private:
  context(std::shared_ptr<const model> m, context_params params);

  struct token_info;
  void compute(std::span<const token_info> toks, float* logits_out);

  std::shared_ptr<const model> model_;
  context_params params_;
  std::size_t n_ctx_;
  std::unique_ptr<thread_pool> pool_;
  std::unique_ptr<kv_cache> cache_;
  std::vector<float> scratch_;  ///< activations of one pass (see compute())
};

} // namespace troupe::inference
