// Matrix products of activations with (possibly quantized) weight matrices:
// y(n_tokens, rows) = x(n_tokens, cols) * w^T, the core of every linear layer.
//
// matmul picks the fastest kernels this CPU has (scalar, AVX2, AVX-512 with VNNI; capped by
// TROUPE_SIMD) and splits the rows over a thread_pool. Accuracy against matmul_reference:
//   F32, F16, BF16: weights are expanded exactly to f32 and multiplied in f32, so only the
//     summation order differs (|err| <~ 1e-6 * sum_i |w_i x_i| for cols ~ 4096).
//   Q8_0, Q4_0 (every path): the activations are first quantized to int8 in blocks of 32
//     (one f32 scale d_b = max|x_b| / 127 per block) and the dot products run on integers,
//     so each x_i carries an extra error of at most d_b / 2:
//     |err| <= sum_b (d_b / 2) * sum_{i in b} |w_i| (plus f32 rounding).
//   Q4_K, Q6_K on the AVX2 and AVX-512 VNNI paths: the same with super-blocks b of 256 values sharing
//     one scale, rounded exactly as llama.cpp's Q8_K does (so results track llama.cpp's; about
//     0.7% rms relative error per product on random data against 0.55% for blocks of 32).
//     On the scalar path their rows are expanded to f32 like F16 (no activation rounding).
//   On random data the observed error is about a quarter of the bound (tests/inference/matmul.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <utility>

#include "troupe/inference/tensor_type.hpp"

namespace troupe::inference {

class thread_pool;

/// A weight matrix as stored in a GGUF file: `rows` rows (output features) of `cols` values
/// (input features), each row `row_bytes` bytes from the previous one.
struct weight_view {
  tensor_type type;       ///< F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K
  const void* data;       ///< first byte of row 0
  std::size_t rows;       ///< output features
  std::size_t cols;       ///< input features = values per row (a multiple of the block size)
  std::size_t row_bytes;  ///< stride between rows (at least row_bytes(type, cols))
  /// The same weights re-laid-out by pack_weights for this CPU's kernels, or null. matmul
  /// reads these when set; matmul_reference (and everything else) reads `data`.
  const void* packed = nullptr;
};

/// Anonymous memory (64-byte aligned, transparent huge pages requested) holding one or more
/// weight matrices in the layout of this CPU's fastest kernels. Move-only; unmapped on destruction.
class packed_weights {
public:
  packed_weights() = default;
  packed_weights(packed_weights&& o) noexcept : mem_(o.mem_), bytes_(o.bytes_), mapped_(o.mapped_) {
    o.mem_ = nullptr;
    o.bytes_ = o.mapped_ = 0;
  }
  packed_weights& operator=(packed_weights&& o) noexcept {
    if (this != &o) {
      release();
      std::swap(mem_, o.mem_);
      std::swap(bytes_, o.bytes_);
      std::swap(mapped_, o.mapped_);
    }
    return *this;
  }
  packed_weights(const packed_weights&) = delete;
  packed_weights& operator=(const packed_weights&) = delete;
  ~packed_weights() { release(); }

  /// First byte of the packed matrices (null when empty).
  [[nodiscard]] const void* data() const { return mem_; }
  /// Bytes of the packed matrices (0 when empty).
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  /// True when the matrix was packed.
  explicit operator bool() const { return mem_ != nullptr; }

private:
  friend packed_weights pack_weights(std::span<weight_view* const> ws);
  void release();
  void* mem_ = nullptr;
  std::size_t bytes_ = 0;   ///< packed matrices
  std::size_t mapped_ = 0;  ///< the mapping (bytes_ rounded up to pages)
};

/// Re-lays-out w for the kernels matmul uses on this CPU when they have a faster layout for
/// w's type: today Q8_0 on AVX-512 VNNI (panels of 16 rows, quants interleaved 4 bytes per
/// row, +128 so they are unsigned, f16 scales beside them; see cpu/isa.hpp). Returns an
/// empty object otherwise, or when memory cannot be mapped. To use it, set
/// `w.packed = result.data()` and keep the result alive while w is used.
[[nodiscard]] packed_weights pack_weights(const weight_view& w);

/// The same for many matrices at once, into one mapping (so that huge pages cover small
/// matrices too): packs each view that has a faster layout and sets its `packed`; views
/// without one are left alone. Keep the result alive while the views are used.
[[nodiscard]] packed_weights pack_weights(std::span<weight_view* const> ws);

/// y(n_tokens, w.rows) = x(n_tokens, w.cols) * w^T, row-major, with the rows split over
/// `pool` (nullptr: the calling thread only). n_tokens = 1 is a matrix-vector product
/// bound by memory bandwidth; larger n_tokens reuse each block of weight rows from cache.
/// Preconditions (bugs otherwise): is_kernel_type(w.type), cols a multiple of its block
/// size, x and y not overlapping.
void matmul(const weight_view& w, const float* x, std::size_t n_tokens, float* y, thread_pool* pool);

/// One product of a matmul_many call: y(n_tokens, w->rows) = x * w^T.
struct matmul_out {
  const weight_view* w;
  float* y;
};

/// Several products of the same activations x(n_tokens, cols) (every w->cols equal), e.g. a
/// layer's q, k and v: the rows of all of them are split into one list of tasks for the pool,
/// so the threads meet once instead of once per matrix. Each result equals matmul's. F32,
/// F16 and BF16 weights share the task list, and so do packed Q8_0 ones (quantizing x once);
/// other types, or packed Q8_0 beside others, run as matmul calls in turn.
void matmul_many(std::initializer_list<matmul_out> outs, const float* x, std::size_t n_tokens, thread_pool* pool);

/// For a one-token matmul or matmul_many of `ws` (decode) that follows single-threaded steps
/// of the caller: asks each worker of `pool` to read the start of the part of those weights it
/// will stream (thread_pool::read_ahead) meanwhile, using memory bandwidth that would sit
/// unused, so that those bytes come from the caches when the product runs. A hint: it stops
/// when the pool's next call starts, and does nothing for weights whose one-token products do
/// not stream (other than F32, F16, BF16, packed Q8_0) or without workers. The weights must
/// stay mapped until the pool is destroyed.
/// `calls_ahead`: as thread_pool::read_ahead's (the product is the pool's calls_ahead-th call
/// from now).
void warm_one_token(std::initializer_list<const weight_view*> ws, thread_pool& pool, std::uint32_t calls_ahead = 1);

/// The plain oracle: dequantizes each row with reference::dequantize_row and accumulates
/// the dot product in double. Single-threaded and slow.
void matmul_reference(const weight_view& w, const float* x, std::size_t n_tokens, float* y);

} // namespace troupe::inference
