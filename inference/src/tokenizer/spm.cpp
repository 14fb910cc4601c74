// SentencePiece-style BPE ("llama" vocabularies): start from single UTF-8 characters and keep
// merging the adjacent pair whose concatenation is the vocabulary entry with the highest score
// (ties: leftmost pair first). Characters left without a token fall back to <0xXX> byte tokens.
#include <queue>

#include "tokenizer/unicode.hpp"
#include <troupe/inference/vocab.hpp>

namespace troupe::inference {
namespace {

/// One piece of the text being merged; a doubly linked list over a vector.
struct symbol {
  std::size_t offset;  // into the text
  std::size_t len;     // bytes; 0 once merged into its left neighbour
  int prev;
  int next;
};

/// A candidate merge of two adjacent symbols.
struct candidate {
  float score;
  int left;
  int right;
  std::size_t len;  // left.len + right.len when the candidate was made
};

struct lower_priority {
  bool operator()(const candidate& a, const candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

} // namespace

void tokenizer::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<symbol> syms;
  for (std::size_t off = 0; off < text.size();) {
    const std::size_t len =
        std::min(unicode::utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    const int idx = static_cast<int>(syms.size());
    syms.push_back({off, len, idx - 1, off + len == text.size() ? -1 : idx + 1});
    off += len;
  }
  if (syms.empty()) {
    return;
  }

  std::priority_queue<candidate, std::vector<candidate>, lower_priority> queue;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) {
      return;
    }
    const symbol& l = syms[static_cast<std::size_t>(left)];
    const symbol& r = syms[static_cast<std::size_t>(right)];
    const int32_t id = find(text.substr(l.offset, l.len + r.len));
    if (id >= 0) {
      queue.push({score_of(id), left, right, l.len + r.len});
    }
  };
  for (int i = 1; i < static_cast<int>(syms.size()); ++i) {
    consider(i - 1, i);
  }

  while (!queue.empty()) {
    const candidate c = queue.top();
    queue.pop();
    symbol& l = syms[static_cast<std::size_t>(c.left)];
    symbol& r = syms[static_cast<std::size_t>(c.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.len) {
      continue;  // stale: one side has changed since
    }
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) {
      syms[static_cast<std::size_t>(r.next)].prev = c.left;
    }
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  for (int i = 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
    const symbol& s = syms[static_cast<std::size_t>(i)];
    const std::string_view piece = text.substr(s.offset, s.len);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (const char ch : piece) {
      const int32_t id = byte_ids_[static_cast<uint8_t>(ch)];
      if (id >= 0) {
        out.push_back(id);
      } else if (unk_ >= 0) {
        out.push_back(unk_);
      }
    }
  }
}

} // namespace troupe::inference
