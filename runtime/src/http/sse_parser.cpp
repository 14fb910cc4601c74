#include "http/sse_parser.hpp"

#include <fmt/format.h>

namespace troupe::runtime::detail {

std::optional<std::string> sse_parser::feed(std::string_view bytes, const sse_event_fn& on_event) {
  if (failed_) return failed_;
  std::size_t i = 0;
  if (at_start_ && !bytes.empty()) {
    // A BOM may arrive split over chunks; keep bytes in line_ until decided.
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    while (i < bytes.size() && line_.size() < bom.size() && bytes[i] == bom[line_.size()]) {
      line_ += bytes[i++];
      ++offset_;
    }
    if (line_.size() == bom.size()) {
      line_.clear();
      at_start_ = false;
    } else if (i < bytes.size()) {
      at_start_ = false;  // not a BOM: what was held is ordinary line text
    }
  }
  while (i < bytes.size()) {
    const char c = bytes[i++];
    ++offset_;
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      if (!line(on_event)) {
        offset_ += bytes.size() - i;
        return failed_;
      }
      continue;
    }
    line_ += c;
    if (line_.size() > max_event_bytes_) {
      failed_ = fmt::format("event stream line longer than {} bytes at byte {}", max_event_bytes_, offset_);
      return failed_;
    }
  }
  return failed_;
}

std::optional<std::string> sse_parser::finish(const sse_event_fn& on_event) {
  if (failed_) return failed_;
  if (!line_.empty() && !line(on_event)) return failed_;
  if (has_data_) dispatch(on_event);
  return failed_;
}

bool sse_parser::line(const sse_event_fn& on_event) {
  at_start_ = false;
  if (line_.empty()) return dispatch(on_event);
  const std::string_view l = line_;
  if (l.front() == ':') {  // a comment (servers send these as keep-alives)
    line_.clear();
    return true;
  }
  const auto colon = l.find(':');
  const std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data" || field == "error") {
    // "error:" is not a standard field; llama.cpp's server reports failures with it.
    if (field == "error") event_.type = "error";
    if (event_.data.size() + value.size() + 1 > max_event_bytes_) {
      failed_ = fmt::format("event stream event longer than {} bytes at byte {}", max_event_bytes_, offset_);
      line_.clear();
      return false;
    }
    event_.data.append(value);
    event_.data += '\n';
    has_data_ = true;
  } else if (field == "event") {
    event_.type.assign(value);
  }  // "id", "retry" and unknown fields are ignored, as the standard says
  line_.clear();
  return true;
}

bool sse_parser::dispatch(const sse_event_fn& on_event) {
  line_.clear();
  if (!has_data_) {  // a blank line without data: the standard drops the event
    event_ = {};
    return true;
  }
  event_.data.pop_back();  // the last "\n"
  sse_event e = std::move(event_);
  event_ = {};
  has_data_ = false;
  return on_event(e);
}

} // namespace troupe::runtime::detail
