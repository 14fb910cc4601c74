// Per-token bookkeeping of one pass, shared by context.cpp (validation) and forward.cpp.
#pragma once

#include "troupe/inference/context.hpp"

namespace troupe::inference {

/// One token of a pass: what it is, where its sequence's cache lives, where it goes.
struct context::token_info {
  std::int32_t token;
  std::size_t slot;     ///< cache slot of its sequence
  std::size_t pos;      ///< position in the sequence
  bool want_logits;
};

} // namespace troupe::inference
