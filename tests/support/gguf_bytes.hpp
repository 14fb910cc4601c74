// A test helper that assembles GGUF bytes by hand, field by field, so reader tests can build
// files the writer would never produce (wrong counts, bad offsets, odd types).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

namespace troupe::test {

/// Little-endian GGUF byte builder.
struct gguf_bytes {
  std::vector<std::byte> b;

  template <class T>
  gguf_bytes& put(T v) {
    const auto at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
    return *this;
  }
  gguf_bytes& u8(std::uint8_t v) { return put(v); }
  gguf_bytes& u32(std::uint32_t v) { return put(v); }
  gguf_bytes& u64(std::uint64_t v) { return put(v); }
  gguf_bytes& f32(float v) { return put(v); }
  gguf_bytes& str(std::string_view s) {
    u64(s.size());
    for (char c : s) b.push_back(static_cast<std::byte>(c));
    return *this;
  }
  /// "GGUF", version, tensor_count, kv_count.
  gguf_bytes& header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
    return u32(0x46554747u).u32(version).u64(n_tensors).u64(n_kv);
  }
  gguf_bytes& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
  gguf_bytes& kv_string(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
  /// A tensor info: name, n_dims, dims, type id, offset.
  gguf_bytes& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type,
                     std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims) u64(d);
    return u32(type).u64(offset);
  }
  /// Zero bytes up to a multiple of `alignment`.
  gguf_bytes& pad(std::size_t alignment) {
    while (b.size() % alignment != 0) b.push_back(std::byte{0});
    return *this;
  }
  gguf_bytes& zeros(std::size_t n) {
    b.resize(b.size() + n);
    return *this;
  }
  void write(const std::filesystem::path& p) const {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
};

} // namespace troupe::test
