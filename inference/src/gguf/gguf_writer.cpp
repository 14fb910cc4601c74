// gguf_writer: serialising metadata, tensor infos and data; atomic replace of the target.
#include "troupe/inference/gguf_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <unistd.h>

namespace troupe::inference {

namespace {

/// Appends little-endian fields to an in-memory buffer (the header and tensor infos).
struct byte_sink {
  std::vector<std::byte> b;
  template <class T>
  void put(T v) {
    const auto at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
  }
  void str(std::string_view s) {
    put<std::uint64_t>(s.size());
    const auto at = b.size();
    b.resize(at + s.size());
    std::memcpy(b.data() + at, s.data(), s.size());
  }
};

result<void> put_value(byte_sink& out, const gguf_value& v, const std::string& key);

result<void> put_payload(byte_sink& out, const gguf_value& v, const std::string& key) {
  return std::visit(
      [&](const auto& x) -> result<void> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.str(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.put<std::uint8_t>(x ? 1 : 0);
        } else if constexpr (std::is_same_v<T, gguf_array>) {
          out.put(static_cast<std::uint32_t>(x.elem_type));
          out.put<std::uint64_t>(x.items.size());
          for (const auto& item : x.items) {
            if (item.type() != x.elem_type)
              return fail(errc::invalid_argument,
                          fmt::format("gguf_writer: key '{}' is an array of {} holding a {}", key,
                                      to_string(x.elem_type), to_string(item.type())));
            if (auto r = put_payload(out, item, key); !r) return r;
          }
        } else {
          out.put(x);
        }
        return {};
      },
      v.raw());
}

result<void> put_value(byte_sink& out, const gguf_value& v, const std::string& key) {
  out.put(static_cast<std::uint32_t>(v.type()));
  return put_payload(out, v, key);
}

/// Closes a FILE on scope exit.
struct file_closer {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

tl::unexpected<error> io_error(const std::string& what, const std::filesystem::path& p) {
  return fail(errc::io, fmt::format("gguf_writer: cannot {} '{}': {}", what, p.string(),
                                    std::strerror(errno)));
}

std::size_t padding(std::size_t n, std::size_t alignment) {
  return (alignment - n % alignment) % alignment;
}

} // namespace

gguf_writer::gguf_writer(std::uint32_t alignment) : alignment_(alignment) {
  if (alignment != 32) set("general.alignment", alignment);
}

void gguf_writer::set(const std::string& key, gguf_value value) {
  for (auto& kv : kvs_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kvs_.push_back(gguf_kv{key, std::move(value), 0});
}

void gguf_writer::set_string_array(const std::string& key, const std::vector<std::string>& values) {
  gguf_array a{gguf_type::string, {}};
  a.items.reserve(values.size());
  for (const auto& s : values) a.items.emplace_back(s);
  set(key, std::move(a));
}

void gguf_writer::set_f32_array(const std::string& key, const std::vector<float>& values) {
  gguf_array a{gguf_type::f32, {}};
  a.items.reserve(values.size());
  for (float v : values) a.items.emplace_back(v);
  set(key, std::move(a));
}

void gguf_writer::set_i32_array(const std::string& key, const std::vector<std::int32_t>& values) {
  gguf_array a{gguf_type::i32, {}};
  a.items.reserve(values.size());
  for (std::int32_t v : values) a.items.emplace_back(v);
  set(key, std::move(a));
}

result<std::size_t> gguf_writer::check_tensor(const std::string& name,
                                              const std::vector<std::uint64_t>& shape,
                                              tensor_type type) const {
  auto bad = [&name](const std::string& why) {
    return fail(errc::invalid_argument, fmt::format("gguf_writer: tensor '{}': {}", name, why));
  };
  if (name.empty() || name.size() > 63) return bad("name must be 1..63 bytes");
  for (const auto& t : tensors_)
    if (t.name == name) return bad("duplicate name");
  if (shape.empty() || shape.size() > 4) return bad(fmt::format("{} dims (1..4 allowed)", shape.size()));
  std::uint64_t n = 1;
  for (auto d : shape) {
    if (d == 0) return bad("a dimension is 0");
    if (__builtin_mul_overflow(n, d, &n)) return bad("shape overflows");
  }
  const auto& tr = traits_of(type);
  if (shape[0] % tr.block_elems != 0)
    return bad(fmt::format("row length {} is not a multiple of the {} block size {}", shape[0],
                           tr.name, tr.block_elems));
  return static_cast<std::size_t>(n / tr.block_elems * tr.block_bytes);
}

result<void> gguf_writer::add_tensor(const std::string& name, std::vector<std::uint64_t> shape,
                                     tensor_type type, std::span<const std::byte> data) {
  auto bytes = check_tensor(name, shape, type);
  if (!bytes) return tl::make_unexpected(bytes.error());
  if (data.size() != *bytes)
    return fail(errc::invalid_argument,
                fmt::format("gguf_writer: tensor '{}': {} bytes given, shape and type need {}",
                            name, data.size(), *bytes));
  auto copy = std::make_shared<std::vector<std::byte>>(data.begin(), data.end());
  tensors_.push_back(tensor_entry{name, std::move(shape), type, *bytes,
                                  [copy](std::span<std::byte> out) -> result<void> {
                                    std::memcpy(out.data(), copy->data(), out.size());
                                    return {};
                                  }});
  return {};
}

result<void> gguf_writer::add_tensor(const std::string& name, std::vector<std::uint64_t> shape,
                                     tensor_type type, producer fill) {
  auto bytes = check_tensor(name, shape, type);
  if (!bytes) return tl::make_unexpected(bytes.error());
  tensors_.push_back(tensor_entry{name, std::move(shape), type, *bytes, std::move(fill)});
  return {};
}

result<void> gguf_writer::write(const std::filesystem::path& path) const {
  byte_sink head;
  head.put<std::uint32_t>(0x46554747u);
  head.put<std::uint32_t>(3);
  head.put<std::uint64_t>(tensors_.size());
  head.put<std::uint64_t>(kvs_.size());
  for (const auto& kv : kvs_) {
    head.str(kv.key);
    if (auto r = put_value(head, kv.value, kv.key); !r) return r;
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    head.str(t.name);
    head.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
    for (auto d : t.shape) head.put<std::uint64_t>(d);
    head.put(static_cast<std::uint32_t>(t.type));
    head.put<std::uint64_t>(offset);
    offset += t.bytes + padding(t.bytes, alignment_);
  }
  head.b.resize(head.b.size() + padding(head.b.size(), alignment_));

  auto tmp = path;
  tmp += fmt::format(".tmp{}", ::getpid());
  std::unique_ptr<std::FILE, file_closer> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) return io_error("create", tmp);
  auto abandon = [&tmp, &f](tl::unexpected<error> e) {
    f.reset();
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return e;
  };
  if (std::fwrite(head.b.data(), 1, head.b.size(), f.get()) != head.b.size())
    return abandon(io_error("write", tmp));
  std::vector<std::byte> buf;
  const std::vector<std::byte> zeros(alignment_);
  for (const auto& t : tensors_) {
    buf.assign(t.bytes, std::byte{0});
    if (auto r = t.fill(std::span<std::byte>(buf)); !r) return abandon(tl::make_unexpected(r.error()));
    const std::size_t pad = padding(t.bytes, alignment_);
    if (std::fwrite(buf.data(), 1, buf.size(), f.get()) != buf.size() ||
        std::fwrite(zeros.data(), 1, pad, f.get()) != pad)
      return abandon(io_error("write", tmp));
  }
  if (std::fflush(f.get()) != 0) return abandon(io_error("write", tmp));
  if (std::fclose(f.release()) != 0) return abandon(io_error("close", tmp));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    return fail(errc::io, fmt::format("gguf_writer: cannot rename '{}' to '{}': {}", tmp.string(),
                                      path.string(), why));
  }
  return {};
}

} // namespace troupe::inference
