#include "tokenizer/unicode.hpp"
#include <troupe/inference/vocab.hpp>

namespace troupe::inference {
namespace {

std::string sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const uint32_t cpt : unicode::decode_utf8(bytes)) {
    unicode::append_utf8(out, cpt);
  }
  return out;
}

/// Where an incomplete UTF-8 sequence at the end of `s` starts; s.size() if there is none.
std::size_t incomplete_tail(std::string_view s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = static_cast<uint8_t>(s[n - back]);
    if ((b & 0xC0) == 0x80) {
      continue;  // a continuation byte: keep looking for its lead byte
    }
    if (b >= 0xC0 && b < 0xF8 && unicode::utf8_len(b) > back) {
      return n - back;
    }
    return n;
  }
  return n;
}

} // namespace

std::string utf8_stream::push(std::string_view bytes) {
  pending_.append(bytes);
  const std::size_t cut = incomplete_tail(pending_);
  std::string out = sanitize(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
  return out;
}

std::string utf8_stream::flush() {
  std::string out = sanitize(pending_);
  pending_.clear();
  return out;
}

} // namespace troupe::inference
