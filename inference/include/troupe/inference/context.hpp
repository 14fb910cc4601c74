// The fast forward pass: a context owns a KV cache for several sequences and a thread pool,
// and runs batches in which each entry appends tokens to one sequence. Prefill (many tokens of
// one sequence) and decode (one token of each of many sequences) are the same code path: all
// tokens of a batch go through every weight matrix together (matrix-matrix products), and
// attention reads each token's own sequence from the cache.
//
// The KV cache is paged: a pool of blocks of kv_block_tokens positions (all layers), sized by
// a memory budget; each sequence has a table of blocks. Full blocks are registered under a
// hash of the tokens they hold chained from the blocks before them, so a new sequence whose
// prompt starts like an earlier one can share those blocks (seq_attach_prefix) and compute
// only the rest. Blocks of removed sequences stay cached until their memory is needed
// (least recently used first).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "troupe/inference/error.hpp"
#include "troupe/inference/model.hpp"
#include "troupe/inference/tensor_type.hpp"

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
  std::size_t kv_block_tokens = 16;  ///< positions per KV block (all layers)
  /// Memory of the KV block pool in bytes; 0 = n_seq_max * n_ctx positions' worth (every
  /// sequence can always reach n_ctx). Smaller budgets share blocks among sequences and give
  /// errc::context_full when a batch needs more blocks than are free or cached.
  std::size_t kv_budget_bytes = 0;
  tensor_type kv_type = tensor_type::f16;  ///< element type of cached keys/values: f16 or f32
};

/// Counters and occupancy of a context's KV cache.
struct kv_stats {
  std::size_t block_tokens = 0;   ///< positions per block
  std::size_t blocks_total = 0;   ///< blocks in the pool
  std::size_t blocks_in_use = 0;  ///< blocks held by live sequences
  std::size_t blocks_cached = 0;  ///< blocks held by no sequence, kept for prefix reuse (evictable)
  std::size_t bytes = 0;          ///< memory of the pool
  std::size_t hit_tokens = 0;     ///< prompt tokens seq_attach_prefix took from the cache
  std::size_t miss_tokens = 0;    ///< prompt tokens seq_attach_prefix left to compute
  std::size_t computed_tokens = 0; ///< tokens run through decode (prompts and generated)
  std::size_t evictions = 0;      ///< cached blocks taken back for other contents
};

/// Runs a model over batches of sequences. Not thread-safe: one caller at a time.
class context {
public:
  /// A context for `m`; allocates the KV block pool. Errors (invalid_argument): no model,
  /// n_seq_max / n_batch_max / kv_block_tokens of 0, kv_type not f16/f32, a budget smaller
  /// than one block.
  [[nodiscard]] static result<std::unique_ptr<context>> create(std::shared_ptr<const model> m,
                                                               context_params params = {});
  ~context();
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// Opens an empty sequence. Error `context_full` when n_seq_max are alive.
  [[nodiscard]] result<seq_id> seq_create();
  /// Drops a sequence. Its full blocks stay cached for prefix reuse; the rest are free.
  result<void> seq_remove(seq_id seq);
  /// For an empty sequence: shares the longest run of cached full blocks matching the start
  /// of `tokens` (whole blocks only, and at least one token of `tokens` is left out, so that
  /// decoding the rest yields logits). Returns the tokens now in the sequence: decode
  /// tokens[result..] next. Counts hit / miss tokens. Errors: invalid_argument for an unknown
  /// or non-empty sequence.
  result<std::size_t> seq_attach_prefix(seq_id seq, std::span<const std::int32_t> tokens);
  /// Tokens in the cache of `seq`.
  [[nodiscard]] result<std::size_t> seq_length(seq_id seq) const;

  /// Runs a batch. On success `logits_out` holds (n_wanted, n_vocab) row-major: the wanted
  /// rows in entry order, tokens in order within an entry. Everything is checked before
  /// anything changes: unknown sequence / bad token / duplicate sequence -> invalid_argument,
  /// a sequence that would exceed n_ctx or a batch needing more KV blocks than can be had ->
  /// context_full (the cache is unchanged: blocks are counted before any is taken, so a
  /// batch gets all of them or none). Blocks shared with other sequences are never
  /// written: a rewind into one gives the sequence its own copy first.
  result<void> decode(const batch& b, std::vector<float>& logits_out);

  /// KV blocks decode() would allocate for entry `e` alone: its positions past the blocks the
  /// sequence keeps, plus a private copy of a shared block it writes into. A batch of entries
  /// that only append (pos = append) fits exactly when the sum of their needs is at most
  /// blocks_available(); rewinds may need fewer (they give blocks back first). Lets a
  /// scheduler plan a batch that decode() will not refuse with context_full. Errors as
  /// decode(): invalid_argument for an unknown sequence or a start past its end.
  [[nodiscard]] result<std::size_t> blocks_needed(const batch_entry& e) const;
  /// KV blocks allocations can take now: free ones plus cached ones no sequence holds.
  [[nodiscard]] std::size_t blocks_available() const;

  [[nodiscard]] const model& get_model() const { return *model_; }
  [[nodiscard]] std::size_t n_ctx() const { return n_ctx_; }
  [[nodiscard]] std::size_t n_vocab() const { return model_->params().n_vocab; }
  [[nodiscard]] std::size_t n_threads() const;
  /// Occupancy and counters of the KV cache.
  [[nodiscard]] kv_stats cache_stats() const;

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
  std::size_t computed_tokens_ = 0;  ///< tokens run through decode (kv_stats::computed_tokens)
};

} // namespace troupe::inference
