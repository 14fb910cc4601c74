// Mutation fuzzing of gguf_file::open: thousands of corrupted variants of valid files (bit
// flips, truncations, huge counts and lengths, bad offsets, inserted and deleted bytes). Each
// open must return a file or an error with a message; when it returns a file, every tensor's
// bytes and every metadata value are touched, so a sanitizer build (-DTROUPE_SANITIZE=address)
// catches any read outside the mapping. The seed is fixed: the run is deterministic.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include <troupe/inference/gguf.hpp>
#include <troupe/inference/gguf_writer.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::inference;

namespace {

/// splitmix64, the test's own deterministic PRNG.
struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::filesystem::path& p, const std::vector<char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

/// Applies one random mutation; positions favour the first `hot` bytes (header, metadata and
/// tensor infos, where counts and offsets live).
void mutate(std::vector<char>& b, rng& r, std::size_t hot) {
  auto pos = [&]() { return r.below(2) == 0 ? r.below(std::min(hot, b.size())) : r.below(b.size()); };
  static const std::uint64_t huge[] = {~0ull, 1ull << 63, 1ull << 40, 0x7fffffffull, 0xffffffffull,
                                       1ull << 32, 0, 1, 5, 13, 64, 4096};
  switch (r.below(7)) {
    case 0: {  // flip 1..8 bits
      const auto n = 1 + r.below(8);
      for (std::size_t i = 0; i < n && !b.empty(); ++i) b[pos()] ^= static_cast<char>(1 << r.below(8));
      break;
    }
    case 1:  // truncate
      b.resize(r.below(b.size()));
      break;
    case 2: case 3: {  // overwrite a u64 or u32 with a troublesome value
      const std::uint64_t v = huge[r.below(std::size(huge))];
      const std::size_t width = r.below(2) == 0 ? 8 : 4;
      const std::size_t at = pos();
      if (at + width <= b.size()) std::memcpy(b.data() + at, &v, width);
      break;
    }
    case 4: {  // random bytes over a short run
      const std::size_t at = pos();
      for (std::size_t i = 0; i < 1 + r.below(16) && at + i < b.size(); ++i)
        b[at + i] = static_cast<char>(r.next());
      break;
    }
    case 5: {  // delete a short run
      const std::size_t at = pos();
      const std::size_t n = std::min(b.size() - at, 1 + r.below(16));
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
      break;
    }
    default: {  // insert a short run
      const std::size_t at = pos();
      std::vector<char> ins(1 + r.below(16));
      for (auto& c : ins) c = static_cast<char>(r.next());
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
    }
  }
}

/// Reads everything an opened file exposes; returns a checksum so nothing is optimised away.
std::uint64_t touch(const gguf_file& f) {
  std::uint64_t sum = 0;
  for (const auto& kv : f.metadata()) {
    sum += kv.key.size() + static_cast<std::uint64_t>(kv.value.type());
    (void)f.get_u32(kv.key);
    (void)f.get_f32(kv.key);
    if (auto s = f.get_string_array(kv.key)) sum += s->size();
    if (auto i = f.get_i32_array(kv.key)) sum += i->size();
    if (auto x = f.get_f32_array(kv.key)) sum += x->size();
  }
  for (const auto& t : f.tensors()) {
    REQUIRE(t.data != nullptr);
    for (std::size_t i = 0; i < t.bytes; i += 61) sum += static_cast<std::uint8_t>(t.data[i]);
    if (t.bytes > 0) sum += static_cast<std::uint8_t>(t.data[t.bytes - 1]);
  }
  return sum;
}

} // namespace

TEST_CASE("thousands of mutated files open or fail cleanly") {
  troupe::test::temp_dir dir;
  // Seed files: a small generated model (f16, qwen2 biases) and one with every value type.
  model_spec s;
  s.arch = "qwen2";
  s.n_vocab = 300;
  s.n_embd = 32;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.n_ff = 64;
  s.n_layer = 1;
  s.weight_type = tensor_type::f16;
  REQUIRE(write_random_model(s, dir / "model.gguf").has_value());
  gguf_writer w(64);
  w.set("s", "text");
  w.set("b", true);
  w.set("d", 2.5);
  w.set("i64", std::int64_t{-5});
  gguf_array nested{gguf_type::array, {}};
  nested.items.emplace_back(gguf_array{gguf_type::string, {gguf_value{"a"}, gguf_value{"bc"}}});
  nested.items.emplace_back(gguf_array{gguf_type::i16, {std::int16_t{-1}}});
  w.set("nested", std::move(nested));
  w.set_i32_array("ints", {1, 2, 3});
  const std::vector<float> vals(96, 1.0f);
  REQUIRE(w.add_tensor("q", {32, 3}, tensor_type::f32, std::as_bytes(std::span<const float>(vals))).has_value());
  REQUIRE(w.add_tensor("k", {64}, tensor_type::q8_0, [](std::span<std::byte>) -> result<void> { return {}; }).has_value());
  REQUIRE(w.write(dir / "types.gguf").has_value());

  int opened = 0;
  int failed = 0;
  std::uint64_t checksum = 0;
  rng r{20261124};
  for (const char* seed_name : {"model.gguf", "types.gguf"}) {
    const auto original = slurp(dir / seed_name);
    auto base = gguf_file::open(dir / seed_name);
    REQUIRE(base.has_value());
    const auto hot = static_cast<std::size_t>(base->data_offset());
    for (int iter = 0; iter < 2500; ++iter) {
      auto bytes = original;
      const auto n_mutations = 1 + r.below(3);
      for (std::size_t m = 0; m < n_mutations; ++m) mutate(bytes, r, hot);
      spit(dir / "fuzz.gguf", bytes);
      auto f = gguf_file::open(dir / "fuzz.gguf");
      if (f) {
        ++opened;
        checksum += touch(*f);
      } else {
        ++failed;
        CHECK_FALSE(f.error().message.empty());
      }
    }
  }
  MESSAGE("mutated files: " << opened << " opened, " << failed << " rejected (checksum "
                            << checksum << ")");
  CHECK(opened + failed == 5000);
  CHECK(failed > 1000);  // most corruptions must be caught
  // Bounded memory: nothing was allocated from an unchecked count (a huge count would show
  // as a bad_alloc or a peak far above the few MB these files need).
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  MESSAGE("peak RSS " << ru.ru_maxrss / 1024 << " MiB");
  CHECK(ru.ru_maxrss < 1024 * 1024);  // KiB: under 1 GiB even with sanitizer shadow memory
}
