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

} // namespace troupe::inference
