// write_random_model: metadata, vocabulary and seeded random tensors of a Llama-family model.
#include "troupe/inference/model_gen.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "gguf/synthetic_vocab.hpp"
#include "splitmix64.hpp"
#include "troupe/inference/gguf_writer.hpp"
#include "troupe/inference/quant.hpp"

namespace troupe::inference {

namespace {

/// splitmix64: a small, fast, well-mixed 64-bit generator (same stream everywhere).
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() { return detail::splitmix64_next(state); }
  /// Uniform in (0, 1].
  double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
};

/// Normal samples by the Box-Muller transform (pairs; the second is kept for the next call).
struct normal_source {
  splitmix64 rng;
  bool has_spare = false;
  double spare = 0;
  double next() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double r = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double t = 6.283185307179586 * rng.uniform();
    spare = r * std::sin(t);
    has_spare = true;
    return r * std::cos(t);
  }
};

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

/// The type a matrix with rows of `row` values is stored in: the requested type, or, like
/// llama.cpp's quantizer, Q8_0 for rows that are not a multiple of a k-quant's 256-value
/// block (e.g. n_embd 960 in Q4_K).
tensor_type matrix_type(tensor_type wanted, std::uint64_t row) {
  if (row % traits_of(wanted).block_elems == 0) return wanted;
  return tensor_type::q8_0;
}

enum class init { matrix, norm, bias };

struct tensor_plan {
  std::string name;
  std::vector<std::uint64_t> shape;  // ggml order
  tensor_type type;
  init how;
};

std::vector<tensor_plan> plan_tensors(const model_spec& s) {
  const std::uint64_t head_dim = s.n_embd / s.n_head;
  const std::uint64_t n_embd_kv = head_dim * s.n_head_kv;
  const auto w = matrix_type(s.weight_type, s.n_embd);       // rows of n_embd values
  const auto w_down = matrix_type(s.weight_type, s.n_ff);    // ffn_down: rows of n_ff
  std::vector<tensor_plan> p;
  p.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}, w, init::matrix});
  p.push_back({"output_norm.weight", {s.n_embd}, tensor_type::f32, init::norm});
  if (!s.tied_output) p.push_back({"output.weight", {s.n_embd, s.n_vocab}, w, init::matrix});
  for (std::uint32_t i = 0; i < s.n_layer; ++i) {
    auto n = [i](std::string_view t) { return fmt::format("blk.{}.{}", i, t); };
    p.push_back({n("attn_norm.weight"), {s.n_embd}, tensor_type::f32, init::norm});
    p.push_back({n("attn_q.weight"), {s.n_embd, s.n_embd}, w, init::matrix});
    p.push_back({n("attn_k.weight"), {s.n_embd, n_embd_kv}, w, init::matrix});
    p.push_back({n("attn_v.weight"), {s.n_embd, n_embd_kv}, w, init::matrix});
    if (s.arch == "qwen2") {
      p.push_back({n("attn_q.bias"), {s.n_embd}, tensor_type::f32, init::bias});
      p.push_back({n("attn_k.bias"), {n_embd_kv}, tensor_type::f32, init::bias});
      p.push_back({n("attn_v.bias"), {n_embd_kv}, tensor_type::f32, init::bias});
    }
    p.push_back({n("attn_output.weight"), {s.n_embd, s.n_embd}, w, init::matrix});
    p.push_back({n("ffn_norm.weight"), {s.n_embd}, tensor_type::f32, init::norm});
    p.push_back({n("ffn_gate.weight"), {s.n_embd, s.n_ff}, w, init::matrix});
    p.push_back({n("ffn_up.weight"), {s.n_embd, s.n_ff}, w, init::matrix});
    p.push_back({n("ffn_down.weight"), {s.n_ff, s.n_embd}, w_down, init::matrix});
  }
  return p;
}

/// Fills `out` with the values of one tensor, row by row, converted to its type.
result<void> fill_tensor(const tensor_plan& t, const model_spec& s, std::span<std::byte> out) {
  const std::uint64_t row = t.shape[0];
  std::uint64_t n_rows = 1;
  for (std::size_t d = 1; d < t.shape.size(); ++d) n_rows *= t.shape[d];
  const std::size_t row_size = row_bytes(t.type, row);
  normal_source src{splitmix64{s.seed ^ fnv1a(t.name)}};
  // Matrices and biases ~ N(0, std); norm weights ~ 1 + N(0, std / 10), like trained ones.
  const double scale = t.how == init::norm ? s.weight_std / 10.0 : s.weight_std;
  const double mean = t.how == init::norm ? 1.0 : 0.0;
  std::vector<float> values(row);  // (row)
  for (std::uint64_t r = 0; r < n_rows; ++r) {
    for (auto& v : values) v = static_cast<float>(mean + scale * src.next());
    quantize_row(t.type, values.data(), out.data() + r * row_size, row);
  }
  return {};
}

/// llama.cpp's `general.file_type` (llama_ftype) for models whose matrices are all `t`.
std::uint32_t file_type_of(tensor_type t) {
  switch (t) {
    case tensor_type::f32: return 0;   // ALL_F32
    case tensor_type::f16: return 1;   // MOSTLY_F16
    case tensor_type::q4_0: return 2;  // MOSTLY_Q4_0
    case tensor_type::q8_0: return 7;  // MOSTLY_Q8_0
    case tensor_type::q4_k: return 15; // MOSTLY_Q4_K_M
    case tensor_type::q6_k: return 18; // MOSTLY_Q6_K
    case tensor_type::bf16: return 32; // MOSTLY_BF16
    default: return 1024;              // GUESSED
  }
}

} // namespace

result<model_spec> model_preset(std::string_view name) {
  if (name == "tiny") return model_spec{};
  if (name == "smollm-360m") {
    model_spec s;
    s.n_vocab = 49152;
    s.n_embd = 960;
    s.n_layer = 32;
    s.n_head = 15;
    s.n_head_kv = 5;
    s.n_ff = 2560;
    s.n_ctx = 2048;
    s.rope_theta = 100000.0f;
    s.tied_output = true;
    s.name = "troupe-random-smollm-360m";
    return s;
  }
  return fail(errc::invalid_argument,
              fmt::format("unknown model preset '{}' (known: tiny, smollm-360m)", name));
}

result<tensor_type> parse_tensor_type(std::string_view name) {
  for (std::uint32_t id = 0; id < 64; ++id) {
    const auto tr = traits_of(id);
    if (!tr || tr->name.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size(); ++i)
      same = same && std::toupper(static_cast<unsigned char>(name[i])) == tr->name[i];
    if (same) return static_cast<tensor_type>(id);
  }
  return fail(errc::invalid_argument, fmt::format("unknown tensor type '{}'", name));
}

result<void> validate(const model_spec& s) {
  auto bad = [](const std::string& why) {
    return fail(errc::invalid_argument, fmt::format("model_spec: {}", why));
  };
  if (s.arch != "llama" && s.arch != "qwen2")
    return bad(fmt::format("unknown arch '{}' (llama, qwen2)", s.arch));
  if (s.n_embd == 0 || s.n_layer == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_ff == 0 ||
      s.n_ctx == 0)
    return bad("n_embd, n_layer, n_head, n_head_kv, n_ff and n_ctx must be positive");
  if (s.tokenizer != "llama" && s.tokenizer != "gpt2")
    return bad(fmt::format("unknown tokenizer '{}' (llama, gpt2)", s.tokenizer));
  const std::uint32_t min_vocab = s.tokenizer == "llama" ? 259 : 257;
  if (s.n_vocab < min_vocab)
    return bad(fmt::format("n_vocab {} < {} (special and 256 byte tokens)", s.n_vocab, min_vocab));
  if (s.n_embd % s.n_head != 0)
    return bad(fmt::format("n_embd {} is not a multiple of n_head {}", s.n_embd, s.n_head));
  if (s.n_head % s.n_head_kv != 0)
    return bad(fmt::format("n_head {} is not a multiple of n_head_kv {}", s.n_head, s.n_head_kv));
  if ((s.n_embd / s.n_head) % 2 != 0) return bad("the head size must be even (RoPE)");
  if (!(s.weight_std > 0.0f)) return bad("weight_std must be positive");
  const auto& tr = traits_of(s.weight_type);
  if (!is_kernel_type(s.weight_type))
    return fail(errc::unsupported,
                fmt::format("model_gen: weight type {} not supported (f32, f16, bf16, q8_0, "
                            "q4_0, q4_k, q6_k)",
                            tr.name));
  // k-quant matrices whose rows don't fit 256-value blocks fall back to Q8_0 (32 values).
  const std::size_t block = std::min<std::size_t>(tr.block_elems, 32);
  if (s.n_embd % block != 0 || s.n_ff % block != 0)
    return bad(fmt::format("n_embd {} and n_ff {} must be multiples of {} for {}", s.n_embd,
                           s.n_ff, block, tr.name));
  return {};
}

result<void> write_random_model(const model_spec& s, const std::filesystem::path& path) {
  if (auto ok = validate(s); !ok) return ok;
  gguf_writer w;
  const std::string& a = s.arch;
  w.set("general.architecture", a);
  w.set("general.name", s.name);
  w.set("general.file_type", file_type_of(s.weight_type));
  w.set(a + ".context_length", s.n_ctx);
  w.set(a + ".embedding_length", s.n_embd);
  w.set(a + ".block_count", s.n_layer);
  w.set(a + ".feed_forward_length", s.n_ff);
  w.set(a + ".attention.head_count", s.n_head);
  w.set(a + ".attention.head_count_kv", s.n_head_kv);
  w.set(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set(a + ".rope.freq_base", s.rope_theta);
  w.set(a + ".rope.dimension_count", std::uint32_t{s.n_embd / s.n_head});
  w.set(a + ".vocab_size", s.n_vocab);

  if (s.tokenizer == "gpt2") {
    auto vocab = make_bpe_vocab(s.n_vocab);
    const std::uint32_t eot = s.n_vocab - 1;
    w.set("tokenizer.ggml.model", "gpt2");
    w.set("tokenizer.ggml.pre", "default");
    w.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
    w.set_i32_array("tokenizer.ggml.token_type", vocab.types);
    w.set_string_array("tokenizer.ggml.merges", vocab.merges);
    w.set("tokenizer.ggml.bos_token_id", eot);
    w.set("tokenizer.ggml.eos_token_id", eot);
    w.set("tokenizer.ggml.add_bos_token", false);
  } else {
    auto vocab = make_spm_vocab(s.n_vocab);
    w.set("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
    w.set_f32_array("tokenizer.ggml.scores", vocab.scores);
    w.set_i32_array("tokenizer.ggml.token_type", vocab.types);
    w.set("tokenizer.ggml.unknown_token_id", std::uint32_t{0});
    w.set("tokenizer.ggml.bos_token_id", std::uint32_t{1});
    w.set("tokenizer.ggml.eos_token_id", std::uint32_t{2});
    w.set("tokenizer.ggml.add_bos_token", true);
  }
  w.set("tokenizer.ggml.add_eos_token", false);

  for (auto& t : plan_tensors(s)) {
    const std::string name = t.name;  // t is moved into the producer below
    auto shape = t.shape;
    const auto type = t.type;
    auto added = w.add_tensor(name, std::move(shape), type,
                              [plan = std::move(t), s](std::span<std::byte> out) {
                                return fill_tensor(plan, s, out);
                              });
    if (!added) return added;
  }
  return w.write(path);
}

} // namespace troupe::inference
