// `troupe inspect MODEL.gguf`: the GGUF header, every metadata key (long arrays and strings
// abbreviated) and the tensor table.
#include <string>

#include <fmt/format.h>

#include <troupe/inference/gguf.hpp>

#include "commands.hpp"

namespace troupe::cli {

namespace {

namespace inf = troupe::inference;

constexpr std::size_t max_array_items = 8;
constexpr std::size_t max_string_chars = 80;

/// A string as a quoted, escaped, possibly shortened literal.
std::string quote(std::string_view s) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : s) {
    if (n++ == max_string_chars) {
      out += fmt::format("\"... ({} bytes)", s.size());
      return out;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string show(const inf::gguf_value& v);

std::string show_array(const inf::gguf_array& a) {
  std::string out = "[";
  for (std::size_t i = 0; i < a.items.size() && i < max_array_items; ++i) {
    if (i > 0) out += ", ";
    out += show(a.items[i]);
  }
  if (a.items.size() > max_array_items)
    out += fmt::format(", ... {} more", a.items.size() - max_array_items);
  return out + "]";
}

std::string show(const inf::gguf_value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return quote(x);
        else if constexpr (std::is_same_v<T, inf::gguf_array>) return show_array(x);
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t>)
          return fmt::format("{}", static_cast<int>(x));
        else return fmt::format("{}", x);
      },
      v.raw());
}

std::string type_name(const inf::gguf_value& v) {
  if (const auto* a = v.array())
    return fmt::format("{}[{}]", inf::to_string(a->elem_type), a->items.size());
  return inf::to_string(v.type());
}

std::string shape_of(const inf::gguf_tensor& t) {
  std::string out;
  for (std::size_t i = 0; i < t.shape.size(); ++i)
    out += (i == 0 ? "" : " x ") + std::to_string(t.shape[i]);
  return out;
}

exit_code run_inspect(const std::string& path) {
  auto f = inf::gguf_file::open(path);
  if (!f) {
    fmt::print(stderr, "troupe inspect: {}\n", f.error().message);
    return f.error().code == inf::errc::io ? exit_code::failure : exit_code::invalid_input;
  }
  fmt::print("file: {}\nGGUF version {}, alignment {}, data at offset {}, {} bytes\n", path,
             f->version(), f->alignment(), f->data_offset(), f->file_bytes());
  fmt::print("\nmetadata ({} keys):\n", f->metadata().size());
  std::size_t key_w = 0;
  for (const auto& kv : f->metadata()) key_w = std::max(key_w, kv.key.size());
  for (const auto& kv : f->metadata())
    fmt::print("  {:<{}}  {:<14} {}\n", kv.key, key_w, type_name(kv.value), show(kv.value));

  std::uint64_t total = 0;
  std::size_t name_w = 4;
  for (const auto& t : f->tensors()) {
    total += t.bytes;
    name_w = std::max(name_w, t.name.size());
  }
  fmt::print("\ntensors ({}, {} bytes):\n", f->tensors().size(), total);
  fmt::print("  {:<{}}  {:<6} {:<22} {:>12} {:>12}\n", "name", name_w, "type", "shape", "bytes",
             "offset");
  for (const auto& t : f->tensors())
    fmt::print("  {:<{}}  {:<6} {:<22} {:>12} {:>12}\n", t.name, name_w,
               inf::traits_of(t.type).name, shape_of(t), t.bytes, t.offset);
  return exit_code::ok;
}

} // namespace

void add_inspect_command(CLI::App& app, exit_code& code) {
  auto* cmd = app.add_subcommand("inspect", "Print a GGUF model's metadata and tensor table");
  auto path = std::make_shared<std::string>();
  cmd->add_option("model", *path, "GGUF file")->required();
  cmd->callback([path, &code] { code = run_inspect(*path); });
}

} // namespace troupe::cli
