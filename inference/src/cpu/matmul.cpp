// matmul: picks the kernel set for this CPU, prepares the activations (int8 blocks of 32 for
// Q8_0/Q4_0; for Q4_K/Q6_K on AVX2 and AVX-512 VNNI, int8 super-blocks of 256 like llama.cpp's
// Q8_K), splits the weight rows into tasks for the pool and runs the tile kernels of
// cpu/isa.hpp on each. On the scalar path Q4_K/Q6_K rows are expanded to f32 per task and run
// as F32.
#include "troupe/inference/matmul.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/isa.hpp"
#include "cpu/stream_split.hpp"
#include "troupe/inference/cpu_features.hpp"
#include "troupe/inference/quant.hpp"
#include "troupe/inference/thread_pool.hpp"

namespace troupe::inference {

namespace {

struct kernel_set {
  void (*tile_f32)(const tile_args&, const float*, std::size_t);
  void (*tile_f16)(const tile_args&, const float*, std::size_t);
  void (*tile_bf16)(const tile_args&, const float*, std::size_t);
  void (*tile_q8_0)(const tile_args&, const act_q8&);
  void (*tile_q4_0)(const tile_args&, const act_q8&);
  void (*quantize_act)(const float*, std::size_t, std::int8_t*, float*, std::int32_t*, std::int32_t*);
  // int8-activation kernels for the k-quants; nullptr: expand rows to f32 instead.
  void (*tile_q4_k)(const tile_args&, const act_q8&) = nullptr;
  void (*tile_q6_k)(const tile_args&, const act_q8&) = nullptr;
  // packed Q8_0 (pack_weights); nullptr: this kernel set reads the file's blocks only.
  void (*tile_q8_0_packed)(const tile_args&, const act_q8&) = nullptr;
};

const kernel_set& kernels() {
  static const kernel_set set = [] {
    const auto& cpu = host_cpu_features();
    if (cpu.avx512 && cpu.avx512_vnni)
      return kernel_set{avx512::tile_f32, avx512::tile_f16, avx512::tile_bf16, avx512::tile_q8_0,
                        avx512::tile_q4_0, avx512::quantize_act, avx512::tile_q4_k, avx512::tile_q6_k,
                        avx512::tile_q8_0_packed};
    if (cpu.avx2)
      return kernel_set{avx2::tile_f32, avx2::tile_f16, avx2::tile_bf16, avx2::tile_q8_0, avx2::tile_q4_0,
                        avx2::quantize_act, avx2::tile_q4_k, avx2::tile_q6_k};
    return kernel_set{scalar::tile_f32, scalar::tile_f16, scalar::tile_bf16, scalar::tile_q8_0,
                      scalar::tile_q4_0, scalar::quantize_act};
  }();
  return set;
}

/// Owns the int8 activations of one matmul call (reused across calls on the same thread).
struct act_buffers {
  std::vector<std::int8_t> qs;
  std::vector<float> d;
  std::vector<std::int32_t> sum;
  std::vector<std::int32_t> sum16;
  std::vector<float> d_pair;
  std::vector<std::int32_t> start_pair;
  std::vector<std::int8_t> qs_bt;
  std::vector<float> d_bt;
  std::vector<std::int32_t> offset_sum;
};

/// The calling thread's activation buffers (each thread that calls matmul has its own).
act_buffers& caller_buffers() {
  thread_local act_buffers buffers;
  return buffers;
}

/// Quantizes x(n_tok, k) to int8 in super-blocks of 256 with one scale each, as llama.cpp
/// does for its k-quant dot products (Q8_K): q = round-to-even(x * 127 / amax), d = 1 / (127 /
/// amax). The scale is written for each of the 8 blocks of 32, so the act_q8 layout (and the
/// kernels reading it) is the same as for blocks of 32.
void quantize_super_blocks(const float* x, std::size_t n_super, std::int8_t* qs, float* d, std::int32_t* sum,
                           std::int32_t* sum16) {
  constexpr std::size_t n = 256;
  for (std::size_t s = 0; s < n_super; ++s, x += n, qs += n, d += 8, sum += 8, sum16 += 16) {
    float amax = 0.0f;
    for (std::size_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const float scale = amax != 0.0f ? 1.0f / id : 0.0f;
    for (std::size_t g = 0; g < 16; ++g) {
      std::int32_t acc = 0;
      for (std::size_t j = 16 * g; j < 16 * g + 16; ++j) {
        const float r = std::min(127.0f, std::nearbyint(x[j] * id));  // default mode: to even
        qs[j] = static_cast<std::int8_t>(r);
        acc += qs[j];
      }
      sum16[g] = acc;
    }
    for (std::size_t b = 0; b < 8; ++b) {
      d[b] = scale;
      sum[b] = sum16[2 * b] + sum16[2 * b + 1];
    }
  }
}

/// Quantizes x(n_tok, k) to int8 blocks (of 32 with their own scales, or with
/// `super_blocks` of 256 sharing one scale); `lane_offset` is the per-lane accumulator
/// offset of the weight format (see act_q8::start_pair). For packed Q8_0 (`packed`), the
/// quants, scales and offset sums are (also) made block-major instead of the pair arrays.
act_q8 quantize_activations(const float* x, std::size_t n_tok, std::size_t k, act_buffers& buf,
                            std::int32_t lane_offset, bool super_blocks, bool packed = false) {
  const std::size_t nb = k / 32, np = nb / 2;
  buf.qs.resize(n_tok * k);
  buf.d.resize(n_tok * nb);
  buf.sum.resize(n_tok * nb);
  buf.sum16.resize(2 * n_tok * nb);
  if (super_blocks)
    quantize_super_blocks(x, n_tok * k / 256, buf.qs.data(), buf.d.data(), buf.sum.data(), buf.sum16.data());
  else
    kernels().quantize_act(x, n_tok * nb, buf.qs.data(), buf.d.data(), buf.sum.data(), buf.sum16.data());
  if (packed) {
    buf.offset_sum.resize(n_tok * nb);
    buf.d_bt.resize(n_tok * nb);
    if (n_tok > 1) buf.qs_bt.resize(n_tok * k);  // one token: qs is already block-major
    for (std::size_t t = 0; t < n_tok; ++t) {
      for (std::size_t b = 0; b < nb; ++b) {
        buf.offset_sum[b * n_tok + t] = -128 * buf.sum[t * nb + b];
        buf.d_bt[b * n_tok + t] = buf.d[t * nb + b];
        if (n_tok > 1) std::memcpy(buf.qs_bt.data() + (b * n_tok + t) * 32, buf.qs.data() + (t * nb + b) * 32, 32);
      }
    }
    return act_q8{buf.qs.data(),      buf.d.data(),    buf.sum.data(), buf.sum16.data(), nullptr, nullptr,
                  n_tok > 1 ? buf.qs_bt.data() : buf.qs.data(), buf.d_bt.data(), buf.offset_sum.data(), k};
  }
  buf.d_pair.resize(n_tok * np * 16);
  buf.start_pair.resize(n_tok * np * 16);
  for (std::size_t t = 0; t < n_tok; ++t) {
    for (std::size_t p = 0; p < np; ++p) {
      float* d = buf.d_pair.data() + (t * np + p) * 16;
      std::int32_t* s = buf.start_pair.data() + (t * np + p) * 16;
      for (int l = 0; l < 16; ++l) {
        const std::size_t b = t * nb + 2 * p + static_cast<std::size_t>(l / 8);
        d[l] = buf.d[b];
        s[l] = -lane_offset * buf.sum[b];
      }
    }
  }
  return act_q8{buf.qs.data(), buf.d.data(), buf.sum.data(), buf.sum16.data(), buf.d_pair.data(),
                buf.start_pair.data(), nullptr, nullptr, nullptr, k};
}

/// Rows per task: small enough that the pool balances (several tasks per thread), large
/// enough that per-task overhead vanishes; a multiple of 4 (the kernels' row group).
std::size_t rows_per_task(std::size_t rows, std::size_t n_threads) {
  const std::size_t target_tasks = 8 * n_threads;
  std::size_t rb = (rows + target_tasks - 1) / target_tasks;
  rb = std::clamp<std::size_t>((rb + 3) / 4 * 4, 8, 64);
  return rb;
}

/// One token streams every weight once from memory (decode): the rows go to the threads as
/// long contiguous runs (parallel_stream), in units of float_stream_rows rows claimed
/// float_stream_grain units at a time.
constexpr std::size_t float_stream_rows = 16;
constexpr std::size_t float_stream_grain = 2;

/// Panels a thread claims at a time from its own part of a one-token packed Q8_0 product
/// (parallel_stream): 16-43 KiB each for SmolLM's matrices, so a claim costs next to nothing.
constexpr std::size_t stream_grain_panels = 4;

/// Tasks for packed Q8_0 and several tokens, in whole 16-row panels: task i covers panels
/// [bounds[i], bounds[i + 1]), about eight even tasks per thread of at most 8 panels.
void packed_tasks(std::size_t rows, std::size_t n_threads, std::vector<std::size_t>& bounds) {
  const std::size_t panels = (rows + q8_0_panel_rows - 1) / q8_0_panel_rows;
  bounds.assign(1, 0);
  const std::size_t per_task = std::clamp<std::size_t>((panels + 8 * n_threads - 1) / (8 * n_threads), 1, 8);
  for (std::size_t p = per_task; p < panels + per_task; p += per_task) bounds.push_back(std::min(p, panels));
}

void run_tasks(thread_pool* pool, std::size_t n_tasks, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (pool == nullptr) {
    for (std::size_t t = 0; t < n_tasks; ++t) fn(t, 0);
  } else {
    pool->parallel_for(n_tasks, fn);
  }
}

/// One-token products of the matrices of `outs` as one stream over their units (units_of(o)
/// each, matrix after matrix; parallel_stream): fn(o, u0, u1) for units [u0, u1) of o's
/// matrix, a run cut where a matrix ends.
template <class Units, class Fn>
void stream_matrices(std::initializer_list<matmul_out> outs, thread_pool* pool, std::size_t grain, Units units_of,
                     Fn fn) {
  std::size_t total = 0;
  for (const auto& o : outs) total += units_of(o);
  parallel_stream(pool, total, grain, [&](std::size_t begin, std::size_t end) {
    std::size_t first = 0;  // index of o's first unit among all
    for (const matmul_out& o : outs) {
      const std::size_t n = units_of(o), b = std::max(begin, first), e = std::min(end, first + n);
      if (b < e) fn(o, b - first, e - first);
      first += n;
    }
  });
}

/// The float kernel of o's type on rows [r0, min(r1, rows)) of o's matrix.
void run_float_rows(const matmul_out& o, std::size_t r0, std::size_t r1, const float* x, std::size_t n_tok) {
  const weight_view& w = *o.w;
  const auto& ks = kernels();
  const auto tile = w.type == tensor_type::f32 ? ks.tile_f32 : w.type == tensor_type::f16 ? ks.tile_f16 : ks.tile_bf16;
  r1 = std::min(r1, w.rows);
  tile(tile_args{static_cast<const std::uint8_t*>(w.data) + r0 * w.row_bytes, w.row_bytes, r1 - r0, w.cols, n_tok, o.y + r0,
                 w.rows},
       x, w.cols);
}

/// The units a one-token float product streams (groups of float_stream_rows rows), and those
/// of a packed Q8_0 one (panels): parallel_stream's items, which warm_one_token follows too.
std::size_t float_units(const weight_view& w) { return (w.rows + float_stream_rows - 1) / float_stream_rows; }
std::size_t panel_units(const weight_view& w) { return (w.rows + q8_0_panel_rows - 1) / q8_0_panel_rows; }

/// One-token float products of `outs` (parallel_stream over groups of float_stream_rows rows).
void stream_float(std::initializer_list<matmul_out> outs, const float* x, thread_pool* pool) {
  stream_matrices(
      outs, pool, float_stream_grain,
      [](const matmul_out& o) { return float_units(*o.w); },
      [&](const matmul_out& o, std::size_t g0, std::size_t g1) {
        run_float_rows(o, g0 * float_stream_rows, g1 * float_stream_rows, x, 1);
      });
}

bool is_float(tensor_type t) { return t == tensor_type::f32 || t == tensor_type::f16 || t == tensor_type::bf16; }
bool is_packed(const weight_view& w) {
  return w.type == tensor_type::q8_0 && w.packed != nullptr && kernels().tile_q8_0_packed != nullptr;
}

/// Most bytes warm_one_token asks a worker to read: more than it reads while the caller runs
/// a few microseconds of single-threaded steps, and well inside its L2.
constexpr std::size_t warm_bytes = std::size_t{256} << 10;

/// The packed Q8_0 kernel on panels [p0, p1) of o's matrix.
void run_panels(const matmul_out& o, std::size_t p0, std::size_t p1, const act_q8& act, std::size_t n_tok) {
  const weight_view& w = *o.w;
  const std::size_t panel = q8_0_panel_bytes(w.cols), r0 = p0 * q8_0_panel_rows;
  const std::size_t r1 = std::min(w.rows, p1 * q8_0_panel_rows);
  kernels().tile_q8_0_packed(
      tile_args{static_cast<const std::uint8_t*>(w.packed) + p0 * panel, panel, r1 - r0, w.cols, n_tok, o.y + r0, w.rows},
      act);
}

/// One-token packed Q8_0 products of `outs` (parallel_stream over panels).
void stream_packed(std::initializer_list<matmul_out> outs, const act_q8& act, thread_pool* pool) {
  stream_matrices(
      outs, pool, stream_grain_panels,
      [](const matmul_out& o) { return panel_units(*o.w); },
      [&](const matmul_out& o, std::size_t p0, std::size_t p1) { run_panels(o, p0, p1, act, 1); });
}

// matmul_many of packed Q8_0 matrices: the activations quantized once, and the panels of all
// matrices in one task list: for one token one stream over the panels of all of them in turn
// (parallel_stream; a run cut where a matrix ends), else each matrix's own tasks.
void matmul_many_packed(std::initializer_list<matmul_out> outs, const float* x, std::size_t n_tok, thread_pool& pool) {
  const std::size_t cols = outs.begin()->w->cols;
  const act_q8 act = quantize_activations(x, n_tok, cols, caller_buffers(), 16, false, true);
  if (n_tok == 1) {
    stream_packed(outs, act, &pool);
    return;
  }
  struct task {
    const matmul_out* out;
    std::size_t p0, p1;  // panels [p0, p1) of out's matrix
  };
  thread_local std::vector<task> tasks;  // the caller's; workers only read it
  tasks.clear();
  thread_local std::vector<std::size_t> bounds;
  for (const auto& o : outs) {
    packed_tasks(o.w->rows, pool.size(), bounds);
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) tasks.push_back({&o, bounds[i], bounds[i + 1]});
  }
  const std::vector<task>& ts = tasks;
  pool.parallel_for(ts.size(), [&](std::size_t t, std::size_t) { run_panels(*ts[t].out, ts[t].p0, ts[t].p1, act, n_tok); });
}

} // namespace

void matmul(const weight_view& w, const float* x, std::size_t n_tok, float* y, thread_pool* pool) {
  if (w.rows == 0 || n_tok == 0) return;
  const auto& ks = kernels();
  const std::size_t n_threads = pool != nullptr ? pool->size() : 1;
  const std::size_t rb = rows_per_task(w.rows, n_threads);
  const std::size_t n_tasks = (w.rows + rb - 1) / rb;
  const auto* base = static_cast<const std::uint8_t*>(w.data);
  auto args_for = [&](std::size_t task) {
    const std::size_t r0 = task * rb;
    return tile_args{base + r0 * w.row_bytes, w.row_bytes, std::min(rb, w.rows - r0), w.cols, n_tok, y + r0, w.rows};
  };

  switch (w.type) {
    case tensor_type::f32:
    case tensor_type::f16:
    case tensor_type::bf16: {
      const matmul_out o{&w, y};
      if (n_tok == 1) {
        stream_float({o}, x, pool);
        return;
      }
      const std::size_t frb = rows_per_task(w.rows, n_threads);
      run_tasks(pool, (w.rows + frb - 1) / frb,
                [&](std::size_t task, std::size_t) { run_float_rows(o, task * frb, (task + 1) * frb, x, n_tok); });
      return;
    }
    case tensor_type::q8_0:
      if (w.packed != nullptr && ks.tile_q8_0_packed != nullptr) {
        const act_q8 act = quantize_activations(x, n_tok, w.cols, caller_buffers(), 16, false, true);
        const matmul_out o{&w, y};
        if (n_tok == 1) {
          stream_packed({o}, act, pool);
          return;
        }
        thread_local std::vector<std::size_t> bounds;  // the caller's; workers only read it
        packed_tasks(w.rows, n_threads, bounds);
        const std::vector<std::size_t>& b = bounds;
        run_tasks(pool, b.size() - 1, [&](std::size_t task, std::size_t) { run_panels(o, b[task], b[task + 1], act, n_tok); });
        return;
      }
      [[fallthrough]];
    case tensor_type::q4_0: {
      const act_q8 act = quantize_activations(x, n_tok, w.cols, caller_buffers(),
                                             w.type == tensor_type::q8_0 ? 16 : 1, false);
      const auto tile = w.type == tensor_type::q8_0 ? ks.tile_q8_0 : ks.tile_q4_0;
      run_tasks(pool, n_tasks, [&](std::size_t task, std::size_t) { tile(args_for(task), act); });
      return;
    }
    case tensor_type::q4_k:
    case tensor_type::q6_k: {
      const auto int_tile = w.type == tensor_type::q4_k ? ks.tile_q4_k : ks.tile_q6_k;
      if (int_tile != nullptr) {
        const act_q8 act = quantize_activations(x, n_tok, w.cols, caller_buffers(), 0, true);
        run_tasks(pool, n_tasks, [&](std::size_t task, std::size_t) { int_tile(args_for(task), act); });
        return;
      }
      run_tasks(pool, n_tasks, [&](std::size_t task, std::size_t) {
        thread_local std::vector<float> scratch;
        tile_args a = args_for(task);
        scratch.resize(a.n_rows * w.cols);
        for (std::size_t r = 0; r < a.n_rows; ++r)
          dequantize_row(w.type, a.w + r * w.row_bytes, scratch.data() + r * w.cols, w.cols);
        a.w = reinterpret_cast<const std::uint8_t*>(scratch.data());
        a.w_stride = w.cols * sizeof(float);
        ks.tile_f32(a, x, w.cols);
      });
      return;
    }
    default: return;  // precondition violated; is_kernel_type() says which types work
  }
}

// matmul_many: the float kernels of several matrices over one task list, or packed Q8_0 ones
// (matmul_many_packed); other types, or a mix, go through matmul's per-type paths above, one
// matrix at a time.
void matmul_many(std::initializer_list<matmul_out> outs, const float* x, std::size_t n_tok, thread_pool* pool) {
  bool shared = pool != nullptr && outs.size() > 1 && n_tok > 0, all_float = true, all_packed = true;
  for (const auto& o : outs) {
    shared = shared && o.w->cols == outs.begin()->w->cols;
    all_float = all_float && is_float(o.w->type);
    all_packed = all_packed && is_packed(*o.w);
  }
  if (shared && all_packed) {
    matmul_many_packed(outs, x, n_tok, *pool);
    return;
  }
  if (!shared || !all_float) {
    for (const auto& o : outs) matmul(*o.w, x, n_tok, o.y, pool);
    return;
  }
  if (n_tok == 1) {
    stream_float(outs, x, pool);
    return;
  }
  struct task {
    const matmul_out* out;
    std::size_t r0, r1;
  };
  std::size_t total_rows = 0;
  for (const auto& o : outs) total_rows += o.w->rows;
  const std::size_t rb = rows_per_task(total_rows, pool->size());
  std::vector<task> tasks;
  tasks.reserve(total_rows / rb + outs.size());
  for (const auto& o : outs)
    for (std::size_t r0 = 0; r0 < o.w->rows; r0 += rb) tasks.push_back({&o, r0, r0 + rb});
  run_tasks(pool, tasks.size(), [&](std::size_t t, std::size_t) { run_float_rows(*tasks[t].out, tasks[t].r0, tasks[t].r1, x, n_tok); });
}

void warm_one_token(std::initializer_list<const weight_view*> ws, thread_pool& pool, std::uint32_t calls_ahead) {
  if (pool.size() < 2 || ws.size() == 0) return;
  // The units the stream splits (stream_float's row groups or stream_packed's panels) and
  // where each matrix's lie: the same kind for all of ws, or they do not stream as one.
  struct span {
    const std::uint8_t* base;
    std::size_t unit_bytes, units;
  };
  std::array<span, 4> spans{};
  if (ws.size() > spans.size()) return;
  const bool packed = is_packed(**ws.begin());
  std::size_t total = 0, n = 0;
  for (const weight_view* w : ws) {
    if (packed != is_packed(*w) || (!packed && !is_float(w->type))) return;
    spans[n++] = packed ? span{static_cast<const std::uint8_t*>(w->packed), q8_0_panel_bytes(w->cols), panel_units(*w)}
                        : span{static_cast<const std::uint8_t*>(w->data), float_stream_rows * w->row_bytes, float_units(*w)};
    total += spans[n - 1].units;
  }
  // Worker t reads the front of part t, up to the end of the matrix it starts in. The caller
  // usually claims part 0; if a worker takes another part, what it read still comes from a
  // cache (another core's) instead of memory.
  for (std::size_t t = 1; t < pool.size(); ++t) {
    std::size_t u = stream_part(&pool, total, t).first;
    for (std::size_t i = 0; i < n; u -= spans[i].units, ++i) {
      if (u >= spans[i].units) continue;
      const std::size_t bytes = std::min(warm_bytes, (spans[i].units - u) * spans[i].unit_bytes);
      pool.read_ahead(t, spans[i].base + u * spans[i].unit_bytes, bytes, calls_ahead);
      break;
    }
  }
}

void matmul_reference(const weight_view& w, const float* x, std::size_t n_tok, float* y) {
  std::vector<float> row(w.cols);
  const auto* base = static_cast<const std::uint8_t*>(w.data);
  for (std::size_t r = 0; r < w.rows; ++r) {
    reference::dequantize_row(w.type, base + r * w.row_bytes, row.data(), w.cols);
    for (std::size_t t = 0; t < n_tok; ++t) {
      double acc = 0.0;
      for (std::size_t i = 0; i < w.cols; ++i) acc += static_cast<double>(row[i]) * x[t * w.cols + i];
      y[t * w.rows + r] = static_cast<float>(acc);
    }
  }
}

} // namespace troupe::inference
