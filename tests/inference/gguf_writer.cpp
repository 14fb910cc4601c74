// gguf_writer: round trips through gguf_file for every value type and tensor layout, argument
// checks, and the atomic replace (a failed write leaves the old file in place).
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/gguf_writer.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::inference;

namespace {

std::span<const std::byte> bytes_of(const std::vector<float>& v) {
  return std::as_bytes(std::span<const float>(v));
}

} // namespace

TEST_CASE("every metadata type round-trips in order") {
  troupe::test::temp_dir dir;
  gguf_writer w;
  w.set("u8", std::uint8_t{200});
  w.set("i8", std::int8_t{-100});
  w.set("u16", std::uint16_t{60000});
  w.set("i16", std::int16_t{-30000});
  w.set("u32", std::uint32_t{4000000000u});
  w.set("i32", std::int32_t{-2000000000});
  w.set("f32", 0.25f);
  w.set("bool", true);
  w.set("string", "hello ▁world");
  w.set("u64", std::uint64_t{1} << 63);
  w.set("i64", std::int64_t{-1} << 62);
  w.set("f64", 3.5);
  w.set_string_array("strings", {"<unk>", "", "▁the"});
  w.set_f32_array("floats", {1.0f, -2.5f});
  w.set_i32_array("ints", {3, -4, 5});
  gguf_array nested{gguf_type::array, {}};
  nested.items.emplace_back(gguf_array{gguf_type::u8, {std::uint8_t{1}, std::uint8_t{2}}});
  nested.items.emplace_back(gguf_array{gguf_type::string, {gguf_value{"x"}}});
  w.set("nested", std::move(nested));
  w.set("empty", gguf_array{gguf_type::f64, {}});
  w.set("u32", std::uint32_t{7});  // replaces the value, keeps the position
  REQUIRE(w.write(dir / "m.gguf").has_value());

  auto f = gguf_file::open(dir / "m.gguf");
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  CHECK(f->version() == 3);
  const std::vector<std::string> keys{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                      "string", "u64", "i64", "f64", "strings", "floats",
                                      "ints", "nested", "empty"};
  REQUIRE(f->metadata().size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(f->metadata()[i].key == keys[i]);
    CHECK(static_cast<std::uint32_t>(f->metadata()[i].value.type()) == (i < 12 ? (i < 9 ? i : i + 1) : 9));
  }
  CHECK(*f->find("u8")->get_if<std::uint8_t>() == 200);
  CHECK(*f->find("i8")->get_if<std::int8_t>() == -100);
  CHECK(*f->find("u16")->get_if<std::uint16_t>() == 60000);
  CHECK(*f->find("i16")->get_if<std::int16_t>() == -30000);
  CHECK(*f->get_u32("u32") == 7);
  CHECK(*f->get_i32("i32") == -2000000000);
  CHECK(*f->get_f32("f32") == 0.25f);
  CHECK(*f->get_bool("bool"));
  CHECK(*f->get_string("string") == "hello ▁world");
  CHECK(*f->get_u64("u64") == (std::uint64_t{1} << 63));
  CHECK(*f->find("i64")->get_if<std::int64_t>() == (std::int64_t{-1} << 62));
  CHECK(*f->find("f64")->get_if<double>() == 3.5);
  CHECK(*f->get_string_array("strings") == std::vector<std::string_view>{"<unk>", "", "▁the"});
  CHECK(*f->get_f32_array("floats") == std::vector<float>{1.0f, -2.5f});
  CHECK(*f->get_i32_array("ints") == std::vector<std::int32_t>{3, -4, 5});
  const auto* n = *f->get_array("nested");
  REQUIRE(n->items.size() == 2);
  CHECK(*n->items[0].array()->items[1].get_if<std::uint8_t>() == 2);
  CHECK(*n->items[1].array()->items[0].string() == "x");
  CHECK((*f->get_array("empty"))->elem_type == gguf_type::f64);
  CHECK((*f->get_array("empty"))->items.empty());
  CHECK(f->get_u32("u64").error().message == "gguf: key 'u64' value 9223372036854775808 does not fit u32");
}

TEST_CASE("tensors round-trip with alignment, offsets and producers") {
  troupe::test::temp_dir dir;
  for (std::uint32_t alignment : {32u, 64u, 256u}) {
    gguf_writer w(alignment);
    w.set("general.architecture", "test");
    const std::vector<float> a{1, 2, 3, 4, 5, 6};
    REQUIRE(w.add_tensor("a", {3, 2}, tensor_type::f32, bytes_of(a)).has_value());
    REQUIRE(w.add_tensor("q", {64, 2}, tensor_type::q8_0,
                         [](std::span<std::byte> out) -> result<void> {
                           for (std::size_t i = 0; i < out.size(); ++i)
                             out[i] = static_cast<std::byte>(i);
                           return {};
                         })
                .has_value());
    const std::vector<float> b{-1};
    REQUIRE(w.add_tensor("b", {1}, tensor_type::f32, bytes_of(b)).has_value());
    REQUIRE(w.write(dir / "t.gguf").has_value());

    auto f = gguf_file::open(dir / "t.gguf");
    REQUIRE_MESSAGE(f.has_value(), f.error().message);
    CHECK(f->alignment() == alignment);
    REQUIRE(f->tensors().size() == 3);
    const auto& ta = f->tensors()[0];
    CHECK(ta.shape == std::vector<std::uint64_t>{3, 2});
    CHECK(std::memcmp(ta.data, a.data(), 24) == 0);
    const auto& tq = f->tensors()[1];
    CHECK(tq.type == tensor_type::q8_0);
    CHECK(tq.bytes == 4 * 34);
    CHECK(tq.offset == alignment);  // 24 bytes of "a" padded to one alignment unit
    CHECK(static_cast<int>(tq.data[135]) == 135);
    const auto& tb = f->tensors()[2];
    CHECK(tb.offset % alignment == 0);
    float bv = 0;
    std::memcpy(&bv, tb.data, 4);
    CHECK(bv == -1.0f);
    // Like llama.cpp's writer, the last tensor is padded too.
    CHECK(f->file_bytes() == f->data_offset() + tb.offset + alignment);
  }
}

TEST_CASE("add_tensor rejects bad names, shapes and sizes") {
  gguf_writer w;
  const std::vector<float> four{1, 2, 3, 4};
  REQUIRE(w.add_tensor("t", {4}, tensor_type::f32, bytes_of(four)).has_value());
  auto dup = w.add_tensor("t", {4}, tensor_type::f32, bytes_of(four));
  CHECK(dup.error().code == errc::invalid_argument);
  CHECK(dup.error().message == "gguf_writer: tensor 't': duplicate name");
  CHECK(w.add_tensor("", {4}, tensor_type::f32, bytes_of(four)).error().code == errc::invalid_argument);
  CHECK(w.add_tensor(std::string(64, 'n'), {4}, tensor_type::f32, bytes_of(four)).has_value() == false);
  CHECK(w.add_tensor("z", {4, 0}, tensor_type::f32, bytes_of(four)).error().message ==
        "gguf_writer: tensor 'z': a dimension is 0");
  CHECK(w.add_tensor("d", {1, 1, 1, 1, 4}, tensor_type::f32, bytes_of(four)).has_value() == false);
  CHECK(w.add_tensor("s", {2}, tensor_type::f32, bytes_of(four)).error().message ==
        "gguf_writer: tensor 's': 16 bytes given, shape and type need 8");
  CHECK(w.add_tensor("q", {16}, tensor_type::q4_0, bytes_of(four)).error().message ==
        "gguf_writer: tensor 'q': row length 16 is not a multiple of the Q4_0 block size 32");
}

TEST_CASE("a failed write leaves the previous file and no temporary behind") {
  troupe::test::temp_dir dir;
  const auto target = dir / "m.gguf";
  {
    std::ofstream(target) << "old";
  }
  gguf_writer bad_array;
  bad_array.set("mixed", gguf_array{gguf_type::u32, {std::uint32_t{1}, "two"}});
  auto r = bad_array.write(target);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::invalid_argument);
  CHECK(r.error().message == "gguf_writer: key 'mixed' is an array of u32 holding a string");

  gguf_writer failing;
  REQUIRE(failing
              .add_tensor("t", {8}, tensor_type::f32,
                          [](std::span<std::byte>) -> result<void> {
                            return fail(errc::cancelled, "stop");
                          })
              .has_value());
  auto r2 = failing.write(target);
  REQUIRE_FALSE(r2.has_value());
  CHECK(r2.error().code == errc::cancelled);
  std::ifstream in(target);
  std::string content;
  in >> content;
  CHECK(content == "old");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 1);
  CHECK(gguf_writer{}.write(dir / "no/such/dir/m.gguf").error().code == errc::io);
}
