// Byte-level BPE ("gpt2" vocabularies): the pre-tokenizer splits the text into words, each
// word's bytes are mapped to printable characters (GPT-2's byte <-> unicode table), and within
// a word the adjacent pair with the lowest merge rank is merged until no listed merge applies.
#include <queue>

#include "tokenizer/pretokenize.hpp"
#include "tokenizer/unicode.hpp"
#include <troupe/inference/vocab.hpp>

namespace troupe::inference {
namespace {

struct symbol {
  std::size_t offset;
  std::size_t len;  // 0 once merged into its left neighbour
  int prev;
  int next;
};

struct candidate {
  int rank;
  int left;
  int right;
  std::size_t left_len;
  std::size_t right_len;
};

struct lower_priority {
  bool operator()(const candidate& a, const candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

} // namespace

int tokenizer::merge_rank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left);
  key += '\xff';
  key.append(right);
  const auto it = ranks_.find(key);
  return it == ranks_.end() ? -1 : it->second;
}

void tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  for (const std::string& word :
       detail::pre_split(text, static_cast<detail::pre_style>(pre_style_))) {
    std::string encoded;
    for (const char ch : word) {
      unicode::append_utf8(encoded, unicode::byte_to_cpt(static_cast<uint8_t>(ch)));
    }
    encode_bpe_word(encoded, out);
  }
}

void tokenizer::encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (const int32_t id = find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const std::string_view text = word;
  std::vector<symbol> syms;
  for (std::size_t off = 0; off < text.size();) {
    const std::size_t len =
        std::min(unicode::utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    const int idx = static_cast<int>(syms.size());
    syms.push_back({off, len, idx - 1, off + len == text.size() ? -1 : idx + 1});
    off += len;
  }

  std::priority_queue<candidate, std::vector<candidate>, lower_priority> queue;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) {
      return;
    }
    const symbol& l = syms[static_cast<std::size_t>(left)];
    const symbol& r = syms[static_cast<std::size_t>(right)];
    const int rank = merge_rank(text.substr(l.offset, l.len), text.substr(r.offset, r.len));
    if (rank >= 0) {
      queue.push({rank, left, right, l.len, r.len});
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
    if (l.len != c.left_len || r.len != c.right_len || r.len == 0 || l.len == 0) {
      continue;  // stale
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

  for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
    const symbol& s = syms[static_cast<std::size_t>(i)];
    const std::string_view piece = text.substr(s.offset, s.len);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not in the vocabulary (an incomplete vocabulary): one token per character if possible.
    for (std::size_t off = 0; off < piece.size();) {
      const std::size_t len =
          std::min(unicode::utf8_len(static_cast<uint8_t>(piece[off])), piece.size() - off);
      if (const int32_t id = find(piece.substr(off, len)); id >= 0) {
        out.push_back(id);
      } else if (unk_ >= 0) {
        out.push_back(unk_);
      }
      off += len;
    }
  }
}

} // namespace troupe::inference
