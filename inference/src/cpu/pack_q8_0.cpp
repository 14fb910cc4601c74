// Weight re-layout for the kernels (pack_weights): the packed Q8_0 layout of cpu/isa.hpp,
// written into anonymous memory aligned to 2 MiB with transparent huge pages requested, so
// the decode stream touches few TLB entries and every kernel load is 64-byte aligned.
#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "cpu/isa.hpp"
#include "troupe/inference/cpu_features.hpp"
#include "troupe/inference/matmul.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference {

namespace {

constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// Maps `bytes` of zeroed anonymous memory starting on a 2 MiB boundary (huge pages asked
/// for); null on failure. The mapping is exactly [result, result + round_up(bytes, 4096)).
void* map_aligned(std::size_t bytes) {
  const std::size_t len = (bytes + 4095) / 4096 * 4096;
  const std::size_t span = len + huge_page_bytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  if (aligned > start) munmap(raw, aligned - start);
  const std::uintptr_t end = start + span, used_end = aligned + len;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  void* p = reinterpret_cast<void*>(aligned);
  if (len >= huge_page_bytes) madvise(p, len, MADV_HUGEPAGE);  // a hint; failure is harmless
  return p;
}

} // namespace

void pack_q8_0(const std::uint8_t* w, std::size_t w_stride, std::size_t rows, std::size_t k, std::uint8_t* out) {
  constexpr std::size_t pr = q8_0_panel_rows;
  const std::size_t nb = k / 32, n_pairs = (nb + 1) / 2, panel = q8_0_panel_bytes(k);
  for (std::size_t p0 = 0; p0 < rows; p0 += pr, out += panel) {
    for (std::size_t b = 0; b < 2 * n_pairs; ++b) {
      std::uint8_t* q = out + (b / 2) * q8_0_pair_bytes + (b % 2) * 512;  // (8 chunks, 16 rows, 4)
      std::uint8_t* s = out + (b / 2) * q8_0_pair_bytes + 1024 + (b % 2) * 32;  // (16) f16
      for (std::size_t r = 0; r < pr; ++r) {
        block_q8_0 blk{};  // a padding row or block: scale 0, quants 0
        if (p0 + r < rows && b < nb) std::memcpy(&blk, w + (p0 + r) * w_stride + b * sizeof(block_q8_0), sizeof blk);
        std::memcpy(s + 2 * r, &blk.d, 2);
        for (std::size_t i = 0; i < 32; ++i)
          q[(i / 4) * 64 + 4 * r + i % 4] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(blk.qs[i]) ^ 0x80u);
      }
    }
  }
}

void packed_weights::release() {
  if (mem_ != nullptr) munmap(mem_, mapped_);
  mem_ = nullptr;
  bytes_ = mapped_ = 0;
}

namespace {

/// Bytes of w in its packed layout, or 0 when this CPU's kernels have none for it.
std::size_t packed_bytes(const weight_view& w) {
  const auto& cpu = host_cpu_features();  // the condition under which matmul has tile_q8_0_packed
  if (w.type != tensor_type::q8_0 || !cpu.avx512 || !cpu.avx512_vnni || w.rows == 0 || w.cols < 32) return 0;
  const std::size_t panels = (w.rows + q8_0_panel_rows - 1) / q8_0_panel_rows;
  return (panels * q8_0_panel_bytes(w.cols) + 63) / 64 * 64;  // the next matrix starts 64-byte aligned
}

} // namespace

packed_weights pack_weights(std::span<weight_view* const> ws) {
  packed_weights out;
  std::size_t bytes = 0;
  for (const weight_view* w : ws) bytes += packed_bytes(*w);
  if (bytes == 0) return out;
  void* mem = map_aligned(bytes);
  if (mem == nullptr) return out;
  auto* dst = static_cast<std::uint8_t*>(mem);
  for (weight_view* w : ws) {
    const std::size_t n = packed_bytes(*w);
    if (n == 0) continue;
    pack_q8_0(static_cast<const std::uint8_t*>(w->data), w->row_bytes, w->rows, w->cols, dst);
    w->packed = dst;
    dst += n;
  }
  out.mem_ = mem;
  out.bytes_ = bytes;
  out.mapped_ = (bytes + 4095) / 4096 * 4096;
  return out;
}

packed_weights pack_weights(const weight_view& w) {
  weight_view copy = w;
  weight_view* one[] = {&copy};
  return pack_weights(one);
}

} // namespace troupe::inference
