// Parsing and validating a GGUF file (header, metadata, tensor infos, data section bounds).
#include <limits>

#include <fmt/format.h>

#include "gguf/gguf_reader.hpp"
#include "gguf/mapped_file.hpp"
#include "troupe/inference/gguf.hpp"

namespace troupe::inference {

namespace {

constexpr std::uint32_t max_dims = 4;       // GGML_MAX_DIMS
constexpr std::size_t max_name_bytes = 63;  // GGML_MAX_NAME - 1 (llama.cpp's limit)
constexpr int max_array_depth = 8;          // nesting of arrays inside arrays
constexpr std::uint32_t n_value_types = 13;

#define TROUPE_TRY(var, expr)                            \
  auto var##_r = (expr);                                 \
  if (!var##_r) return tl::make_unexpected(var##_r.error()); \
  auto var = std::move(*var##_r)

/// Smallest encoding of one value of type `t` (scalars: their size; string: its length
/// field; array: element type + count). Used to reject counts the remaining bytes can't hold.
std::size_t min_encoded_bytes(gguf_type t) {
  switch (t) {
    case gguf_type::u8: case gguf_type::i8: case gguf_type::boolean: return 1;
    case gguf_type::u16: case gguf_type::i16: return 2;
    case gguf_type::u32: case gguf_type::i32: case gguf_type::f32: return 4;
    case gguf_type::u64: case gguf_type::i64: case gguf_type::f64: return 8;
    case gguf_type::string: return 8;
    case gguf_type::array: return 12;
  }
  return 1;
}

template <class T>
result<gguf_value> read_scalar(byte_reader& r, const std::string& what) {
  TROUPE_TRY(v, r.read<T>(what));
  return gguf_value{v};
}

} // namespace

/// Does the parsing; a friend of gguf_file.
struct gguf_parser {
  byte_reader r;
  gguf_file& f;

  result<gguf_type> read_type(const std::string& what) {
    const std::size_t at = r.pos();
    TROUPE_TRY(id, r.read<std::uint32_t>(what));
    if (id >= n_value_types)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} at offset {} is unknown value type {}", what, at, id));
    return static_cast<gguf_type>(id);
  }

  result<gguf_value> read_value(gguf_type t, const std::string& what, int depth) {
    switch (t) {
      case gguf_type::u8: return read_scalar<std::uint8_t>(r, what);
      case gguf_type::i8: return read_scalar<std::int8_t>(r, what);
      case gguf_type::u16: return read_scalar<std::uint16_t>(r, what);
      case gguf_type::i16: return read_scalar<std::int16_t>(r, what);
      case gguf_type::u32: return read_scalar<std::uint32_t>(r, what);
      case gguf_type::i32: return read_scalar<std::int32_t>(r, what);
      case gguf_type::f32: return read_scalar<float>(r, what);
      case gguf_type::u64: return read_scalar<std::uint64_t>(r, what);
      case gguf_type::i64: return read_scalar<std::int64_t>(r, what);
      case gguf_type::f64: return read_scalar<double>(r, what);
      case gguf_type::boolean: {
        const std::size_t at = r.pos();
        TROUPE_TRY(b, r.read<std::uint8_t>(what));
        if (b > 1)
          return fail(errc::invalid_file,
                      fmt::format("gguf: {} at offset {} is bool with byte value {}", what, at, b));
        return gguf_value{b == 1};
      }
      case gguf_type::string: {
        TROUPE_TRY(s, r.read_string(what));
        return gguf_value{std::string{s}};
      }
      case gguf_type::array: return read_array(what, depth);
    }
    return fail(errc::invalid_file, fmt::format("gguf: {} has unknown type", what));
  }

  result<gguf_value> read_array(const std::string& what, int depth) {
    const std::size_t at = r.pos();
    if (depth >= max_array_depth)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} at offset {} nests arrays deeper than {}", what, at,
                              max_array_depth));
    TROUPE_TRY(elem, read_type(what + " element type"));
    const std::size_t count_at = r.pos();
    TROUPE_TRY(count, r.read<std::uint64_t>(what + " length"));
    const std::size_t min = min_encoded_bytes(elem);
    if (count > r.remaining() / min)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} length {} at offset {} cannot fit in the {} bytes left",
                              what, count, count_at, r.remaining()));
    gguf_array a;
    a.elem_type = elem;
    a.items.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      TROUPE_TRY(v, read_value(elem, what, depth + 1));
      a.items.push_back(std::move(v));
    }
    return gguf_value{std::move(a)};
  }

  result<void> read_header(std::uint64_t& n_tensors, std::uint64_t& n_kv) {
    TROUPE_TRY(magic, r.read<std::uint32_t>("magic"));
    if (magic != 0x46554747u) {  // "GGUF" read little-endian
      return fail(errc::invalid_file,
                  fmt::format("gguf: bad magic 0x{:08x} at offset 0 (expected \"GGUF\")", magic));
    }
    TROUPE_TRY(version, r.read<std::uint32_t>("version"));
    if (version != 2 && version != 3) {
      const bool swapped = version == 0x02000000u || version == 0x03000000u;
      return fail(errc::unsupported,
                  fmt::format("gguf: unsupported version {} at offset 4 (supported: 2, 3){}",
                              version, swapped ? "; the file is big-endian" : ""));
    }
    f.version_ = version;
    TROUPE_TRY(nt, r.read<std::uint64_t>("tensor_count"));
    TROUPE_TRY(nk, r.read<std::uint64_t>("kv_count"));
    // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info
    // at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
    if (nk > r.remaining() / 13)
      return fail(errc::invalid_file,
                  fmt::format("gguf: kv_count {} at offset 16 cannot fit in the {} bytes left",
                              nk, r.remaining()));
    if (nt > r.remaining() / 24)
      return fail(errc::invalid_file,
                  fmt::format("gguf: tensor_count {} at offset 8 cannot fit in the {} bytes left",
                              nt, r.remaining()));
    n_tensors = nt;
    n_kv = nk;
    return {};
  }

  result<void> read_metadata(std::uint64_t n_kv) {
    f.kvs_.reserve(static_cast<std::size_t>(n_kv));
    for (std::uint64_t i = 0; i < n_kv; ++i) {
      const std::size_t at = r.pos();
      TROUPE_TRY(key, r.read_string(fmt::format("key {} name", i)));
      const std::string what = fmt::format("key '{}'", key);
      if (f.kv_index_.count(key) != 0)
        return fail(errc::invalid_file,
                    fmt::format("gguf: duplicate {} at offset {}", what, at));
      TROUPE_TRY(type, read_type(what + " type"));
      TROUPE_TRY(value, read_value(type, what, 0));
      f.kv_index_.emplace(std::string{key}, f.kvs_.size());
      f.kvs_.push_back(gguf_kv{std::string{key}, std::move(value), at});
    }
    return {};
  }

  result<void> read_alignment() {
    const gguf_value* v = f.find("general.alignment");
    if (v == nullptr) return {};
    const auto* a = v->get_if<std::uint32_t>();
    const std::uint64_t at = f.kvs_[f.kv_index_.find("general.alignment")->second].offset;
    if (a == nullptr)
      return fail(errc::invalid_file,
                  fmt::format("gguf: key 'general.alignment' at offset {} has type {}, expected u32",
                              at, to_string(v->type())));
    if (*a == 0 || (*a & (*a - 1)) != 0)
      return fail(errc::invalid_file,
                  fmt::format("gguf: key 'general.alignment' at offset {} is {}, not a power of 2",
                              at, *a));
    f.alignment_ = *a;
    return {};
  }

  result<gguf_tensor> read_tensor_info(std::uint64_t i) {
    const std::size_t at = r.pos();
    TROUPE_TRY(name, r.read_string(fmt::format("tensor {} name", i)));
    const std::string what = fmt::format("tensor '{}'", name);
    if (name.size() > max_name_bytes)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} at offset {} has a name of {} bytes (at most {})", what,
                              at, name.size(), max_name_bytes));
    if (f.tensor_index_.count(name) != 0)
      return fail(errc::invalid_file, fmt::format("gguf: duplicate {} at offset {}", what, at));
    gguf_tensor t;
    t.name = std::string{name};
    const std::size_t dims_at = r.pos();
    TROUPE_TRY(n_dims, r.read<std::uint32_t>(what + " n_dims"));
    if (n_dims == 0 || n_dims > max_dims)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} n_dims {} at offset {} is outside 1..{}", what, n_dims,
                              dims_at, max_dims));
    std::uint64_t n_elems = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const std::size_t dim_at = r.pos();
      TROUPE_TRY(dim, r.read<std::uint64_t>(fmt::format("{} dimension {}", what, d)));
      if (dim == 0)
        return fail(errc::invalid_file,
                    fmt::format("gguf: {} dimension {} at offset {} is 0", what, d, dim_at));
      if (__builtin_mul_overflow(n_elems, dim, &n_elems) ||
          n_elems > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return fail(errc::invalid_file,
                    fmt::format("gguf: {} shape overflows at dimension {} (offset {})", what, d,
                                dim_at));
      t.shape.push_back(dim);
    }
    const std::size_t type_at = r.pos();
    TROUPE_TRY(type_id, r.read<std::uint32_t>(what + " type"));
    const auto traits = traits_of(type_id);
    if (!traits)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} has unknown tensor type {} at offset {}", what, type_id,
                              type_at));
    t.type = static_cast<tensor_type>(type_id);
    if (t.shape[0] % traits->block_elems != 0)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} of type {} has rows of {} values, not a multiple of the "
                              "block size {}",
                              what, traits->name, t.shape[0], traits->block_elems));
    const std::uint64_t blocks = n_elems / traits->block_elems;
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(blocks, traits->block_bytes, &bytes))
      return fail(errc::invalid_file, fmt::format("gguf: {} size in bytes overflows", what));
    t.bytes = static_cast<std::size_t>(bytes);
    const std::size_t off_at = r.pos();
    TROUPE_TRY(offset, r.read<std::uint64_t>(what + " offset"));
    if (offset % f.alignment_ != 0)
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} data offset {} at offset {} is not a multiple of the "
                              "alignment {}",
                              what, offset, off_at, f.alignment_));
    t.offset = offset;
    return t;
  }

  result<void> place_tensors() {
    const std::uint64_t size = r.size();
    for (auto& t : f.tensors_) {
      std::uint64_t start = 0;
      std::uint64_t end = 0;
      if (__builtin_add_overflow(f.data_offset_, t.offset, &start) ||
          __builtin_add_overflow(start, t.bytes, &end) || end > size)
        return fail(errc::invalid_file,
                    fmt::format("gguf: tensor '{}' data [offset {}, {} bytes] runs past end of "
                                "file (size {})",
                                t.name, t.offset, t.bytes, size));
      t.data = f.map_->data() + start;
    }
    return {};
  }

  result<void> parse() {
    std::uint64_t n_tensors = 0;
    std::uint64_t n_kv = 0;
    if (auto h = read_header(n_tensors, n_kv); !h) return h;
    if (auto m = read_metadata(n_kv); !m) return m;
    if (auto a = read_alignment(); !a) return a;
    f.tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
      TROUPE_TRY(t, read_tensor_info(i));
      f.tensor_index_.emplace(t.name, f.tensors_.size());
      f.tensors_.push_back(std::move(t));
    }
    const std::uint64_t end_of_infos = r.pos();
    f.data_offset_ = (end_of_infos + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    if (n_tensors > 0 && f.data_offset_ > r.size())
      return fail(errc::invalid_file,
                  fmt::format("gguf: data section at offset {} starts past end of file (size {})",
                              f.data_offset_, r.size()));
    return place_tensors();
  }
};

result<gguf_file> gguf_file::open(const std::filesystem::path& path, gguf_memory memory) {
  auto map = memory == gguf_memory::huge_pages ? mapped_file::read_into_huge_pages(path) : mapped_file::open(path);
  if (!map) return tl::make_unexpected(map.error());
  gguf_file f;
  f.path_ = path;
  f.map_ = std::move(*map);
  gguf_parser p{byte_reader{f.map_->data(), f.map_->size()}, f};
  if (auto ok = p.parse(); !ok) {
    auto e = ok.error();
    e.message = fmt::format("{}: {}", path.string(), e.message);
    return tl::make_unexpected(std::move(e));
  }
  return f;
}

} // namespace troupe::inference
