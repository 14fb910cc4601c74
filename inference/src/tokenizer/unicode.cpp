#include "tokenizer/unicode.hpp"

#include <array>

namespace troupe::inference::unicode {
namespace {

bool in_ranges(const cpt_range* ranges, std::size_t count, uint32_t cpt) {
  std::size_t lo = 0;
  std::size_t hi = count;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (ranges[mid].last < cpt) {
      lo = mid + 1;
    } else if (ranges[mid].first > cpt) {
      hi = mid;
    } else {
      return true;
    }
  }
  return false;
}

// The Unicode White_Space property (PropList.txt): a short fixed list.
bool is_white_space(uint32_t cpt) {
  if (cpt <= 0x20) {
    return cpt == 0x20 || (cpt >= 0x09 && cpt <= 0x0D);
  }
  return cpt == 0x85 || cpt == 0xA0 || cpt == 0x1680 || (cpt >= 0x2000 && cpt <= 0x200A) ||
         cpt == 0x2028 || cpt == 0x2029 || cpt == 0x202F || cpt == 0x205F || cpt == 0x3000;
}

struct byte_maps {
  std::array<uint32_t, 256> to_cpt{};
  std::array<int16_t, 512> from_cpt{};  // every mapped code point is below U+0200

  byte_maps() {
    from_cpt.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cpt[static_cast<std::size_t>(b)] = printable ? static_cast<uint32_t>(b) : next++;
      from_cpt[to_cpt[static_cast<std::size_t>(b)]] = static_cast<int16_t>(b);
    }
  }
};

const byte_maps& maps() {
  static const byte_maps m;
  return m;
}

} // namespace

cpt_class classify(uint32_t cpt) {
  cpt_class c;
  c.present = true;
  c.whitespace = is_white_space(cpt);
  if (cpt < 0x80) {
    c.letter = (cpt >= 'a' && cpt <= 'z') || (cpt >= 'A' && cpt <= 'Z');
    c.number = cpt >= '0' && cpt <= '9';
    c.punct = (cpt >= 0x21 && cpt <= 0x23) || (cpt >= 0x25 && cpt <= 0x2A) ||
              (cpt >= 0x2C && cpt <= 0x2F) || cpt == 0x3A || cpt == 0x3B || cpt == 0x3F ||
              cpt == 0x40 || (cpt >= 0x5B && cpt <= 0x5D) || cpt == 0x5F || cpt == 0x7B ||
              cpt == 0x7D;
    return c;
  }
  if (cpt > 0x10FFFF) {
    return c;
  }
  c.letter = in_ranges(k_letter_ranges, k_letter_count, cpt);
  c.number = in_ranges(k_number_ranges, k_number_count, cpt);
  c.punct = in_ranges(k_punct_ranges, k_punct_count, cpt);
  c.mark = in_ranges(k_mark_ranges, k_mark_count, cpt);
  return c;
}

std::size_t utf8_len(uint8_t lead) {
  if (lead < 0xC0) {
    return 1;
  }
  if (lead < 0xE0) {
    return 2;
  }
  return lead < 0xF0 ? 3 : 4;
}

std::vector<uint32_t> decode_utf8(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  const auto cont = [&](std::size_t i) {
    return i < text.size() && (static_cast<uint8_t>(text[i]) & 0xC0) == 0x80;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<uint8_t>(text[i]);
    std::size_t n = 0;
    uint32_t cpt = 0;
    if (b0 < 0x80) {
      n = 1;
      cpt = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      n = 2;
      cpt = b0 & 0x1Fu;
    } else if ((b0 & 0xF0) == 0xE0) {
      n = 3;
      cpt = b0 & 0x0Fu;
    } else if ((b0 & 0xF8) == 0xF0) {
      n = 4;
      cpt = b0 & 0x07u;
    }
    bool ok = n > 0;
    for (std::size_t k = 1; ok && k < n; ++k) {
      ok = cont(i + k);
      if (ok) {
        cpt = (cpt << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3Fu);
      }
    }
    if (ok) {
      out.push_back(cpt);
      i += n;
    } else {
      out.push_back(replacement_cpt);
      ++i;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | ((cpt >> 18) & 0x07));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

uint32_t byte_to_cpt(uint8_t byte) { return maps().to_cpt[byte]; }

int cpt_to_byte(uint32_t cpt) {
  return cpt < maps().from_cpt.size() ? maps().from_cpt[cpt] : -1;
}

} // namespace troupe::inference::unicode
