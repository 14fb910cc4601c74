#include <doctest/doctest.h>

#include <troupe/inference/tensor_type.hpp>

using namespace troupe::inference;

TEST_CASE("block layouts match the GGUF format") {
  CHECK(row_bytes(tensor_type::f32, 64) == 256);
  CHECK(row_bytes(tensor_type::f16, 64) == 128);
  CHECK(row_bytes(tensor_type::bf16, 64) == 128);
  CHECK(row_bytes(tensor_type::q8_0, 64) == 68);  // 2 blocks of (f16 scale + 32 int8)
  CHECK(row_bytes(tensor_type::q4_0, 64) == 36);  // 2 blocks of (f16 scale + 16 nibble bytes)
  CHECK(row_bytes(tensor_type::q4_k, 256) == 144);
  CHECK(row_bytes(tensor_type::q6_k, 512) == 420);
}

TEST_CASE("unknown type ids are reported, not guessed") {
  CHECK_FALSE(traits_of(4u).has_value());  // removed Q4_2
  CHECK_FALSE(traits_of(9999u).has_value());
  REQUIRE(traits_of(14u).has_value());
  CHECK(traits_of(14u)->name == "Q6_K");
}
