// An incremental parser of a server-sent event stream (text/event-stream), as the WHATWG
// HTML standard defines it: bytes arrive in chunks split anywhere; lines end in LF, CR or
// CRLF; "data:" lines accumulate; a blank line dispatches the event; ":" lines are comments.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::runtime::detail {

/// One dispatched event.
struct sse_event {
  std::string type;  ///< the "event:" field; "" when absent (the standard's "message")
  std::string data;  ///< the "data:" lines joined by "\n"
};

/// Called for each dispatched event; return false to stop parsing (feed() then returns).
using sse_event_fn = std::function<bool(const sse_event& event)>;

/// Parses one stream. Not thread-safe (one owner: the request's worker). Bounded: a line or an
/// event's data longer than `max_event_bytes` is an error.
class sse_parser {
public:
  explicit sse_parser(std::size_t max_event_bytes = std::size_t{1} << 20)
      : max_event_bytes_(max_event_bytes) {}

  /// Parses the next chunk. Returns an error message (naming the byte offset) when the stream
  /// is malformed; the parser then stays failed. Returns nullopt otherwise, also when
  /// `on_event` asked to stop.
  std::optional<std::string> feed(std::string_view bytes, const sse_event_fn& on_event);

  /// The stream ended: a last line without its line end still counts, and an event whose
  /// blank line never came is dispatched (lenient towards servers that close right after the
  /// last "data:" line).
  std::optional<std::string> finish(const sse_event_fn& on_event);

  /// Bytes consumed so far.
  [[nodiscard]] std::size_t offset() const { return offset_; }

private:
  bool line(const sse_event_fn& on_event);  // handles line_; false = stop
  bool dispatch(const sse_event_fn& on_event);

  std::size_t max_event_bytes_;
  std::size_t offset_ = 0;
  std::string line_;
  sse_event event_;
  bool has_data_ = false;
  bool after_cr_ = false;   // the previous chunk ended in CR: a leading LF belongs to it
  bool at_start_ = true;    // a UTF-8 BOM may open the stream
  std::optional<std::string> failed_;
};

} // namespace troupe::runtime::detail
