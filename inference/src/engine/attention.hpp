// Attention over the paged KV cache: one token's query heads against positions 0..pos of its
// sequence, reading block by block (rows are contiguous within a block).
#pragma once

#include <cstddef>

#include "engine/kv_cache.hpp"
#include "troupe/inference/model.hpp"

namespace troupe::inference {

/// Stores the keys and values of (slot, pos) for `layer`: k, v are (kv_dim) floats, converted
/// to the cache's element type.
void store_kv(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t pos, const float* k,
              const float* v, std::size_t kv_dim);

/// Attention of one token for the query heads sharing kv head `g`, reading positions 0..pos
/// of `slot` from the cache (which already holds this pass's keys and values).
/// q_tok: (n_head, head_dim) of the token; out_tok: (n_head, head_dim), the heads of group g
/// written; scores: scratch of at least (n_head / n_head_kv) * (pos + 1) floats.
void attend(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t pos, std::size_t g,
            const hparams& hp, const float* q_tok, float* out_tok, float* scores);

/// Most parts merge_parts combines.
inline constexpr std::size_t max_attend_parts = 16;

/// One part of a token's attention split over positions (decode: a few tokens, so splitting
/// by kv head alone would leave threads idle): all query heads against positions
/// [j_begin, j_end) of `slot` (a sub-range of 0..pos), F16 cache only. Reading every head of
/// each cached row in turn makes the part one forward stream over its blocks.
/// out_part: (n_head, head_dim), the softmax-weighted values of the part; stats: (n_head, 2),
/// per head the part's maximum score and its largest softmax weight (1 / sum of
/// exp(score - max)); scores: scratch of n_head * (j_end - j_begin) floats.
void attend_part(kv_cache& cache, std::size_t layer, std::size_t slot, std::size_t j_begin, std::size_t j_end,
                 const hparams& hp, const float* q_tok, float* out_part, float* stats, float* scores);

/// Combines the `n_parts` (1..max_attend_parts) results of attend_part (out_parts: n_parts * (n_head, head_dim),
/// stats: n_parts * (n_head, 2)) into the token's attention output out_tok (n_head, head_dim):
/// the softmax over all positions, rescaled from the parts' softmaxes.
void merge_parts(const float* out_parts, const float* stats, std::size_t n_parts, const hparams& hp, float* out_tok);

} // namespace troupe::inference
