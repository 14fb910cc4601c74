// Cross-checks the block formats against ggml itself: the prebuilt libggml-base from the
// llama.cpp reference (.deps/llama/lib, test-only, loaded with dlopen) quantizes and
// dequantizes the same rows. Skipped, visibly, when the library is not installed.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <troupe/inference/quant.hpp>

#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

#include "support/temp_dir.hpp"

using namespace troupe::inference;

namespace {

using quantize_fn = void (*)(const float*, void*, std::int64_t);
using dequantize_fn = void (*)(const void*, float*, std::int64_t);

/// libggml-base, loaded once for the whole process and never unloaded: its static
/// initializer installs a terminate handler and aborts if the handler is already its own, which
/// a second load at the same address (as under ASan, after a dlclose) would find.
struct ggml_lib {
  void* handle = nullptr;
  static const ggml_lib& get_once() {
    static const ggml_lib lib;
    return lib;
  }
  template <class F>
  F get(const char* name) const {
    return reinterpret_cast<F>(dlsym(handle, name));
  }

 private:
  ggml_lib() {
    const auto path = troupe::test::source_dir() / ".deps/llama/lib/libggml-base.so";
    if (std::filesystem::exists(path)) handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
};

std::vector<float> test_rows(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  for (std::size_t i = 0; i < 32; ++i) x[i] = 0.0f;                        // an all-zero block
  for (std::size_t i = 32; i < 64; ++i) x[i] = 1e-6f * static_cast<float>(i);  // a tiny block
  for (std::size_t i = 64; i < 96; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;  // ties
  return x;
}

} // namespace

TEST_CASE("Q8_0 and Q4_0 quantization is byte-identical to ggml's reference quantizer") {
  const ggml_lib& lib = ggml_lib::get_once();
  if (lib.handle == nullptr) {
    MESSAGE("SKIPPED: libggml-base.so not found under .deps/llama/lib");
    return;
  }
  const std::size_t n = 8192;
  const auto x = test_rows(n, 17);
  for (auto [type, name] : {std::pair{tensor_type::q8_0, "quantize_row_q8_0_ref"},
                            std::pair{tensor_type::q4_0, "quantize_row_q4_0_ref"}}) {
    INFO(name);
    const auto fn = lib.get<quantize_fn>(name);
    REQUIRE(reinterpret_cast<void*>(fn) != nullptr);
    std::vector<std::uint8_t> ours(row_bytes(type, n)), theirs(row_bytes(type, n));
    quantize_row(type, x.data(), ours.data(), n);
    fn(x.data(), theirs.data(), static_cast<std::int64_t>(n));
    CHECK(ours == theirs);
  }
}

TEST_CASE("dequantization agrees with ggml on blocks from either quantizer") {
  const ggml_lib& lib = ggml_lib::get_once();
  if (lib.handle == nullptr) {
    MESSAGE("SKIPPED: libggml-base.so not found under .deps/llama/lib");
    return;
  }
  const std::size_t n = 4096;
  const auto x = test_rows(n, 23);
  struct entry {
    tensor_type type;
    const char* quantize;
    const char* dequantize;
  };
  for (auto e : {entry{tensor_type::q8_0, "quantize_row_q8_0_ref", "dequantize_row_q8_0"},
                 entry{tensor_type::q4_0, "quantize_row_q4_0_ref", "dequantize_row_q4_0"},
                 entry{tensor_type::q4_k, "quantize_row_q4_K_ref", "dequantize_row_q4_K"},
                 entry{tensor_type::q6_k, "quantize_row_q6_K_ref", "dequantize_row_q6_K"}}) {
    INFO(traits_of(e.type).name);
    const auto quantize = lib.get<quantize_fn>(e.quantize);
    const auto dequantize = lib.get<dequantize_fn>(e.dequantize);
    REQUIRE(reinterpret_cast<void*>(quantize) != nullptr);
    REQUIRE(reinterpret_cast<void*>(dequantize) != nullptr);
    std::vector<std::uint8_t> by_ggml(row_bytes(e.type, n)), by_us(row_bytes(e.type, n));
    quantize(x.data(), by_ggml.data(), static_cast<std::int64_t>(n));
    quantize_row(e.type, x.data(), by_us.data(), n);
    for (const auto* blocks : {&by_ggml, &by_us}) {
      std::vector<float> theirs(n), ours(n), ours_fast(n);
      dequantize(blocks->data(), theirs.data(), static_cast<std::int64_t>(n));
      reference::dequantize_row(e.type, blocks->data(), ours.data(), n);
      dequantize_row(e.type, blocks->data(), ours_fast.data(), n);
      CHECK(std::memcmp(theirs.data(), ours.data(), n * sizeof(float)) == 0);
      CHECK(std::memcmp(theirs.data(), ours_fast.data(), n * sizeof(float)) == 0);
    }
  }
}
