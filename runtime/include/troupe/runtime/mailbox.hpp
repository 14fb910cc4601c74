// Bounded agent mailboxes: capacity, overflow policy and the counters a stats query returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace troupe::runtime {

/// What happens when a message arrives at a full mailbox.
enum class overflow_policy : std::uint8_t {
  drop_newest, ///< the arriving message is discarded (counted as dropped); the send succeeds
  drop_oldest, ///< the oldest queued message is discarded (counted as dropped)
  reject,      ///< the arriving message is refused and the sender gets `errc::mailbox_full`
};

/// "drop_newest", "drop_oldest" or "reject".
const char* to_string(overflow_policy policy);

/// Parses the names produced by `to_string(overflow_policy)`; false when unknown.
bool parse_overflow_policy(std::string_view text, overflow_policy& out);

/// Capacity and policy of one mailbox.
struct mailbox_options {
  std::size_t capacity = 1024;                    ///< most envelopes queued at once (>= 1)
  overflow_policy policy = overflow_policy::reject; ///< what to do when full
};

/// Counters of one agent's mailbox (a snapshot).
struct mailbox_stats {
  std::uint64_t accepted = 0;  ///< envelopes that entered the queue
  std::uint64_t processed = 0; ///< envelopes handed to the agent
  std::uint64_t dropped = 0;   ///< discarded by drop_newest / drop_oldest
  std::uint64_t rejected = 0;  ///< refused by reject (each one returned an error to its sender)
  std::size_t depth = 0;       ///< envelopes queued now
  std::size_t high_water = 0;  ///< largest depth seen
  std::size_t capacity = 0;    ///< the configured capacity
};

} // namespace troupe::runtime
