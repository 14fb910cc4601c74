// gguf_file: valid files (v2, v3, every value type, custom alignment), each class of
// corruption with its error message, and llama.cpp's own vocabulary files when present.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/gguf_bytes.hpp"
#include "support/temp_dir.hpp"

using namespace troupe::inference;
using troupe::test::gguf_bytes;

namespace {

/// Writes `g` into `dir` and opens it.
result<gguf_file> open_bytes(const troupe::test::temp_dir& dir, const gguf_bytes& g) {
  const auto p = dir / "t.gguf";
  g.write(p);
  return gguf_file::open(p);
}

/// The error message of a failed open (fails the test when the open succeeds).
std::string open_error(const troupe::test::temp_dir& dir, const gguf_bytes& g,
                       errc code = errc::invalid_file) {
  auto f = open_bytes(dir, g);
  REQUIRE_FALSE(f.has_value());
  CHECK(f.error().code == code);
  return f.error().message;
}

/// Whether `s` contains `part`; shows `s` in the test output when it does not.
bool contains(const std::string& s, std::string_view part) {
  const bool found = s.find(part) != std::string::npos;
  if (!found) MESSAGE("message was: " << s);
  return found;
}

/// One F32 tensor "w" of shape (4, 2) with values 0..7, and a few key/values.
gguf_bytes valid_file(std::uint32_t version = 3) {
  gguf_bytes g;
  g.header(version, 2, 7);
  g.kv_string("general.architecture", "llama");
  g.kv_u32("llama.block_count", 2);
  g.str("small").u32(0).u8(7);                                    // u8
  g.str("negative").u32(5).u32(static_cast<std::uint32_t>(-3));   // i32
  g.str("eps").u32(12).put(1e-5);                                 // f64
  g.str("tokens").u32(9).u32(8).u64(3).str("a").str("").str("<s>");
  g.str("nested").u32(9).u32(9).u64(2);                           // array of arrays
  g.u32(5).u64(2).u32(1).u32(2);                                  //   [1, 2] (i32)
  g.u32(6).u64(1).f32(0.5f);                                      //   [0.5] (f32)
  g.tensor("w", {4, 2}, 0, 0);
  g.tensor("b", {3}, 0, 32);
  g.pad(32);
  for (int i = 0; i < 8; ++i) g.f32(static_cast<float>(i));
  g.zeros(0);
  for (int i = 0; i < 3; ++i) g.f32(-1.0f);
  return g;
}

} // namespace

TEST_CASE("a valid v3 file: metadata, getters, tensors") {
  troupe::test::temp_dir dir;
  auto f = open_bytes(dir, valid_file());
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 32);
  REQUIRE(f->metadata().size() == 7);
  CHECK(f->metadata()[0].key == "general.architecture");
  CHECK(f->metadata()[6].key == "nested");
  CHECK(f->metadata()[0].offset == 24);
  CHECK(*f->get_string("general.architecture") == "llama");
  CHECK(*f->get_u32("llama.block_count") == 2);
  CHECK(*f->get_u32("small") == 7);  // u8 widened
  CHECK(*f->get_i32("negative") == -3);
  CHECK(*f->get_f32("eps") == doctest::Approx(1e-5));  // f64 narrowed
  auto tokens = f->get_string_array("tokens");
  REQUIRE(tokens.has_value());
  CHECK(*tokens == std::vector<std::string_view>{"a", "", "<s>"});
  auto nested = f->get_array("nested");
  REQUIRE(nested.has_value());
  CHECK((*nested)->elem_type == gguf_type::array);
  REQUIRE((*nested)->items.size() == 2);
  CHECK((*nested)->items[0].array()->items[1].get_if<std::int32_t>() != nullptr);
  CHECK(*(*nested)->items[1].array()->items[0].get_if<float>() == 0.5f);

  REQUIRE(f->tensors().size() == 2);
  const gguf_tensor* w = f->find_tensor("w");
  REQUIRE(w != nullptr);
  CHECK(w->shape == std::vector<std::uint64_t>{4, 2});
  CHECK(w->type == tensor_type::f32);
  CHECK(w->bytes == 32);
  CHECK(w->n_elements() == 8);
  float v[8];
  std::memcpy(v, w->data, sizeof v);
  CHECK(v[7] == 7.0f);
  CHECK(f->find_tensor("b")->offset == 32);
  CHECK(f->find_tensor("missing") == nullptr);

  // Moving keeps tensor data and string views valid.
  const std::byte* data = w->data;
  gguf_file moved = std::move(*f);
  CHECK(moved.find_tensor("w")->data == data);
  CHECK((*moved.get_string_array("tokens"))[2] == "<s>");
}

TEST_CASE("a file read into huge pages parses like the mapped file") {
  troupe::test::temp_dir dir;
  const auto p = dir / "t.gguf";
  valid_file().write(p);
  auto mapped = gguf_file::open(p, gguf_memory::mapped);
  auto copied = gguf_file::open(p, gguf_memory::huge_pages);
  REQUIRE_MESSAGE(mapped.has_value(), mapped.error().message);
  REQUIRE_MESSAGE(copied.has_value(), copied.error().message);
  REQUIRE(copied->tensors().size() == mapped->tensors().size());
  for (std::size_t i = 0; i < mapped->tensors().size(); ++i) {
    const auto& a = mapped->tensors()[i];
    const auto& b = copied->tensors()[i];
    CHECK(a.name == b.name);
    CHECK(a.offset == b.offset);
    REQUIRE(a.bytes == b.bytes);
    CHECK(std::memcmp(a.data, b.data, a.bytes) == 0);
  }
  CHECK(*copied->get_string("general.architecture") == "llama");
  CHECK(gguf_file::open(dir / "absent.gguf", gguf_memory::huge_pages).error().code == errc::io);
  troupe::test::temp_dir empty_dir;
  const auto e = empty_dir / "empty.gguf";
  gguf_bytes{}.write(e);
  CHECK(gguf_file::open(e, gguf_memory::huge_pages).error().code == errc::invalid_file);
}

TEST_CASE("getters name the key and the type") {
  troupe::test::temp_dir dir;
  auto f = open_bytes(dir, valid_file());
  REQUIRE(f.has_value());
  CHECK(f->get_u32("llama.embedding_length").error().message ==
        "gguf: key 'llama.embedding_length' missing");
  CHECK(f->get_u32("general.architecture").error().message ==
        "gguf: key 'general.architecture' has type string, expected u32");
  CHECK(f->get_u32("negative").error().message == "gguf: key 'negative' value -3 does not fit u32");
  CHECK(f->get_string("small").error().message == "gguf: key 'small' has type u8, expected string");
  CHECK(f->get_bool("small").error().message == "gguf: key 'small' has type u8, expected bool");
  CHECK(f->get_f32("tokens").error().message == "gguf: key 'tokens' has type array, expected f32");
  CHECK(f->get_f32_array("tokens").error().message ==
        "gguf: key 'tokens' is an array of string, expected f32");
  CHECK(f->get_i32_array("tokens").error().message ==
        "gguf: key 'tokens' element 0 has type string, expected i32");
  CHECK(f->get_string_array("small").error().message ==
        "gguf: key 'small' has type u8, expected array");
}

TEST_CASE("version 2 is read; 1 and 4 are unsupported") {
  troupe::test::temp_dir dir;
  auto f = open_bytes(dir, valid_file(2));
  REQUIRE(f.has_value());
  CHECK(f->version() == 2);
  CHECK(contains(open_error(dir, valid_file(1), errc::unsupported), "unsupported version 1"));
  CHECK(contains(open_error(dir, valid_file(4), errc::unsupported), "unsupported version 4"));
  CHECK(contains(open_error(dir, valid_file(0x03000000u), errc::unsupported), "big-endian"));
}

TEST_CASE("bad magic, empty and truncated files") {
  troupe::test::temp_dir dir;
  gguf_bytes g = valid_file();
  g.b[0] = std::byte{'X'};
  CHECK(contains(open_error(dir, g), "bad magic"));
  CHECK(contains(open_error(dir, gguf_bytes{}), "truncated file: magic at offset 0"));
  gguf_bytes t;
  t.header(3, 0, 1).u64(20).zeros(10);  // the first key's name is cut short
  CHECK(contains(open_error(dir, t),
                 "key 0 name at offset 24 has length 20 but only 10 bytes remain (file size 42)"));
  gguf_bytes cut = valid_file();
  cut.b.resize(cut.b.size() - 1);  // the last tensor loses a byte
  CHECK(contains(open_error(dir, cut), "tensor 'b' data [offset 32, 12 bytes] runs past end"));
  CHECK(gguf_file::open(dir / "absent.gguf").error().code == errc::io);
}

TEST_CASE("counts and lengths larger than the file are rejected before allocating") {
  troupe::test::temp_dir dir;
  gguf_bytes g;
  g.header(3, 0, 1ull << 60);
  CHECK(contains(open_error(dir, g), "kv_count 1152921504606846976 at offset 16 cannot fit"));
  gguf_bytes t;
  t.header(3, ~0ull, 0);
  CHECK(contains(open_error(dir, t), "tensor_count"));
  gguf_bytes s;
  s.header(3, 0, 1).str("k").u32(8).u64(1ull << 40);
  CHECK(contains(open_error(dir, s), "key 'k' at offset 37 has length 1099511627776"));
  gguf_bytes a;
  a.header(3, 0, 1).str("arr").u32(9).u32(6).u64(1ull << 62);
  CHECK(contains(open_error(dir, a), "key 'arr' length 4611686018427387904 at offset 43"));
}

TEST_CASE("bad value types, bools, duplicate keys, deep nesting") {
  troupe::test::temp_dir dir;
  gguf_bytes g;
  g.header(3, 0, 1).str("k").u32(13).u32(0);
  CHECK(contains(open_error(dir, g), "key 'k' type at offset 33 is unknown value type 13"));
  gguf_bytes b;
  b.header(3, 0, 1).str("flag").u32(7).u8(2);
  CHECK(contains(open_error(dir, b), "is bool with byte value 2"));
  gguf_bytes d;
  d.header(3, 0, 2).kv_u32("a", 1).kv_u32("a", 2);
  CHECK(contains(open_error(dir, d), "duplicate key 'a' at offset 41"));
  gguf_bytes n;
  n.header(3, 0, 1).str("deep").u32(9);
  for (int i = 0; i < 20; ++i) n.u32(9).u64(1);
  CHECK(contains(open_error(dir, n), "nests arrays deeper than 8"));
}

TEST_CASE("alignment: custom power of two honoured, others rejected") {
  troupe::test::temp_dir dir;
  gguf_bytes g;
  g.header(3, 1, 1).kv_u32("general.alignment", 64).tensor("w", {2}, 0, 0).pad(64).f32(1).f32(2);
  auto f = open_bytes(dir, g);
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  CHECK(f->alignment() == 64);
  CHECK(f->data_offset() % 64 == 0);
  gguf_bytes bad;
  bad.header(3, 0, 1).kv_u32("general.alignment", 48);
  CHECK(contains(open_error(dir, bad), "'general.alignment' at offset 24 is 48, not a power of 2"));
  gguf_bytes typed;
  typed.header(3, 0, 1).kv_string("general.alignment", "32");
  CHECK(contains(open_error(dir, typed), "has type string, expected u32"));
}

TEST_CASE("tensor infos: dims, shape, type, block size, offset, bounds, duplicates") {
  troupe::test::temp_dir dir;
  auto one = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
    gguf_bytes g;
    g.header(3, 1, 0).tensor("blk.0.attn_q.weight", std::move(dims), type, offset).pad(32).zeros(64);
    return g;
  };
  CHECK(contains(open_error(dir, one({1, 1, 1, 1, 1}, 0, 0)),
                 "tensor 'blk.0.attn_q.weight' n_dims 5 at offset 51 is outside 1..4"));
  CHECK(contains(open_error(dir, one({4, 0}, 0, 0)), "dimension 1 at offset 63 is 0"));
  CHECK(contains(open_error(dir, one({1ull << 40, 1ull << 40}, 0, 0)), "shape overflows"));
  CHECK(contains(open_error(dir, one({4}, 99, 0)), "unknown tensor type 99"));
  CHECK(contains(open_error(dir, one({31}, 8, 0)),
                 "of type Q8_0 has rows of 31 values, not a multiple of the block size 32"));
  CHECK(contains(open_error(dir, one({4}, 0, 8)), "data offset 8 at offset 67 is not a multiple"));
  CHECK(contains(open_error(dir, one({64}, 0, 0)),
                 "gguf: tensor 'blk.0.attn_q.weight' data [offset 0, 256 bytes] runs past end "
                 "of file (size 160)"));
  CHECK(contains(open_error(dir, one({4}, 0, ~0ull & ~31ull)), "runs past end of file"));
  gguf_bytes dup;
  dup.header(3, 2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad(32).zeros(64);
  CHECK(contains(open_error(dir, dup), "duplicate tensor 'w'"));
  gguf_bytes longname;
  longname.header(3, 1, 0).tensor(std::string(64, 'x'), {4}, 0, 0).pad(32).zeros(16);
  CHECK(contains(open_error(dir, longname), "has a name of 64 bytes (at most 63)"));
  // A quantized tensor whose rows fit the block size is fine.
  auto q = open_bytes(dir, one({32, 1}, 8, 0));
  REQUIRE_MESSAGE(q.has_value(), q.error().message);
  CHECK(q->tensors()[0].bytes == 34);
}

TEST_CASE("llama.cpp's own vocabulary files open") {
  const auto dir = troupe::test::source_dir() / ".deps/llama/src/models";
  if (!std::filesystem::exists(dir / "ggml-vocab-llama-spm.gguf")) {
    MESSAGE("SKIPPED: .deps/llama/src/models not present");
    return;
  }
  int opened = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    auto f = gguf_file::open(e.path());
    REQUIRE_MESSAGE(f.has_value(), e.path().string() << ": " << f.error().message);
    auto tokens = f->get_string_array("tokenizer.ggml.tokens");
    REQUIRE_MESSAGE(tokens.has_value(), tokens.error().message);
    CHECK(!tokens->empty());
    ++opened;
  }
  CHECK(opened > 10);
  auto spm = gguf_file::open(dir / "ggml-vocab-llama-spm.gguf");
  REQUIRE(spm.has_value());
  CHECK(*spm->get_string("tokenizer.ggml.model") == "llama");
  CHECK(spm->get_f32_array("tokenizer.ggml.scores")->size() == 32000);
  CHECK(spm->get_i32_array("tokenizer.ggml.token_type")->size() == 32000);
  CHECK((*spm->get_string_array("tokenizer.ggml.tokens"))[1] == "<s>");
}

TEST_CASE("release_resident keeps every byte readable, mapped or copied") {
  troupe::test::temp_dir dir;
  troupe::inference::model_spec spec;  // tensors of many pages, so whole pages are dropped
  spec.n_embd = 256;
  spec.n_ff = 512;
  spec.n_layer = 1;
  const auto p = dir / "m.gguf";
  REQUIRE(troupe::inference::write_random_model(spec, p.string()));
  for (const auto memory : {gguf_memory::mapped, gguf_memory::huge_pages}) {
    auto f = gguf_file::open(p, memory);
    REQUIRE(f.has_value());
    for (const auto& t : f->tensors()) {
      const std::vector<std::byte> before(t.data, t.data + t.bytes);
      f->release_resident(t.data, t.bytes);
      CHECK(std::memcmp(before.data(), t.data, t.bytes) == 0);
    }
  }
}
