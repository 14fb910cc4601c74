// gguf_file accessors: typed metadata getters, lookups, value conversions.
#include <limits>

#include <fmt/format.h>

#include "gguf/mapped_file.hpp"
#include "troupe/inference/gguf.hpp"

namespace troupe::inference {

const char* to_string(gguf_type t) {
  switch (t) {
    case gguf_type::u8: return "u8";
    case gguf_type::i8: return "i8";
    case gguf_type::u16: return "u16";
    case gguf_type::i16: return "i16";
    case gguf_type::u32: return "u32";
    case gguf_type::i32: return "i32";
    case gguf_type::f32: return "f32";
    case gguf_type::boolean: return "bool";
    case gguf_type::string: return "string";
    case gguf_type::array: return "array";
    case gguf_type::u64: return "u64";
    case gguf_type::i64: return "i64";
    case gguf_type::f64: return "f64";
  }
  return "?";
}

bool gguf_value::as_i64(std::int64_t& out) const {
  return std::visit(
      [&out](const auto& v) -> bool {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool> || !std::is_integral_v<T>) {
          return false;
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
          out = static_cast<std::int64_t>(v);
          return true;
        } else {
          out = static_cast<std::int64_t>(v);
          return true;
        }
      },
      v_);
}

bool gguf_value::as_u64(std::uint64_t& out) const {
  if (const auto* u = get_if<std::uint64_t>()) {
    out = *u;
    return true;
  }
  std::int64_t i = 0;
  if (!as_i64(i) || i < 0) return false;
  out = static_cast<std::uint64_t>(i);
  return true;
}

std::uint64_t gguf_tensor::n_elements() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

gguf_file::gguf_file(gguf_file&&) noexcept = default;
gguf_file& gguf_file::operator=(gguf_file&&) noexcept = default;
gguf_file::~gguf_file() = default;

std::uint64_t gguf_file::file_bytes() const { return map_ ? map_->size() : 0; }

void gguf_file::release_resident(const void* p, std::size_t n) const {
  if (map_) map_->drop_pages(static_cast<const std::byte*>(p), n);
}

const gguf_value* gguf_file::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const gguf_tensor* gguf_file::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

tl::unexpected<error> missing(std::string_view key) {
  return fail(errc::invalid_file, fmt::format("gguf: key '{}' missing", key));
}

tl::unexpected<error> wrong_type(std::string_view key, gguf_type got, std::string_view want) {
  return fail(errc::invalid_file,
              fmt::format("gguf: key '{}' has type {}, expected {}", key, to_string(got), want));
}

std::string key_what(std::string_view key) { return fmt::format("key '{}'", key); }

/// An integer value as T, or an error naming the key when it is not an integer or out of range.
template <class T>
result<T> integer_as(const gguf_value& v, const std::string& what, std::string_view want) {
  std::int64_t i = 0;
  std::uint64_t u = 0;
  if (v.as_i64(i)) {
    if (i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (i > 0 && static_cast<std::uint64_t>(i) > std::numeric_limits<T>::max()))
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} value {} does not fit {}", what, i, want));
    return static_cast<T>(i);
  }
  if (v.as_u64(u)) {  // a u64 above INT64_MAX
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      return fail(errc::invalid_file,
                  fmt::format("gguf: {} value {} does not fit {}", what, u, want));
    return static_cast<T>(u);
  }
  return fail(errc::invalid_file,
              fmt::format("gguf: {} has type {}, expected {}", what, to_string(v.type()), want));
}

} // namespace

result<std::string_view> gguf_file::get_string(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  if (const auto* s = v->string()) return std::string_view{*s};
  return wrong_type(key, v->type(), "string");
}

result<std::uint32_t> gguf_file::get_u32(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  return integer_as<std::uint32_t>(*v, key_what(key), "u32");
}

result<std::uint64_t> gguf_file::get_u64(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  return integer_as<std::uint64_t>(*v, key_what(key), "u64");
}

result<std::int32_t> gguf_file::get_i32(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  return integer_as<std::int32_t>(*v, key_what(key), "i32");
}

result<float> gguf_file::get_f32(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  if (const auto* f = v->get_if<float>()) return *f;
  if (const auto* d = v->get_if<double>()) return static_cast<float>(*d);
  return wrong_type(key, v->type(), "f32");
}

result<bool> gguf_file::get_bool(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  if (const auto* b = v->get_if<bool>()) return *b;
  return wrong_type(key, v->type(), "bool");
}

result<const gguf_array*> gguf_file::get_array(std::string_view key) const {
  const gguf_value* v = find(key);
  if (v == nullptr) return missing(key);
  if (const auto* a = v->array()) return a;
  return wrong_type(key, v->type(), "array");
}

result<std::vector<std::string_view>> gguf_file::get_string_array(std::string_view key) const {
  auto a = get_array(key);
  if (!a) return tl::make_unexpected(a.error());
  if ((*a)->elem_type != gguf_type::string)
    return fail(errc::invalid_file, fmt::format("gguf: key '{}' is an array of {}, expected string",
                                                key, to_string((*a)->elem_type)));
  std::vector<std::string_view> out;
  out.reserve((*a)->items.size());
  for (const auto& item : (*a)->items) out.emplace_back(*item.string());
  return out;
}

result<std::vector<float>> gguf_file::get_f32_array(std::string_view key) const {
  auto a = get_array(key);
  if (!a) return tl::make_unexpected(a.error());
  const auto t = (*a)->elem_type;
  if (t != gguf_type::f32 && t != gguf_type::f64)
    return fail(errc::invalid_file, fmt::format("gguf: key '{}' is an array of {}, expected f32",
                                                key, to_string(t)));
  std::vector<float> out;
  out.reserve((*a)->items.size());
  for (const auto& item : (*a)->items) {
    if (const auto* f = item.get_if<float>()) out.push_back(*f);
    else out.push_back(static_cast<float>(*item.get_if<double>()));
  }
  return out;
}

result<std::vector<std::int32_t>> gguf_file::get_i32_array(std::string_view key) const {
  auto a = get_array(key);
  if (!a) return tl::make_unexpected(a.error());
  std::vector<std::int32_t> out;
  out.reserve((*a)->items.size());
  for (std::size_t i = 0; i < (*a)->items.size(); ++i) {
    auto v = integer_as<std::int32_t>((*a)->items[i],
                                      fmt::format("key '{}' element {}", key, i), "i32");
    if (!v) return tl::make_unexpected(v.error());
    out.push_back(*v);
  }
  return out;
}

} // namespace troupe::inference
