// model::load: hyper-parameters from metadata, and errors that name the bad tensor.
#include <doctest/doctest.h>

#include <troupe/inference/gguf_writer.hpp>
#include <troupe/inference/model.hpp>

#include <functional>

#include "engine_helpers.hpp"

using namespace troupe::inference;
using troupe::test::make_model;
using troupe::test::small_spec;
using troupe::test::temp_dir;

namespace {

/// Copies `src` to `dst`, letting `edit` rename/reshape/drop tensors (return false to drop)
/// and `meta` change metadata.
void rewrite(const std::filesystem::path& src, const std::filesystem::path& dst,
             const std::function<bool(gguf_tensor&)>& edit,
             const std::function<void(gguf_writer&)>& meta = {}) {
  auto f = gguf_file::open(src);
  REQUIRE(f.has_value());
  gguf_writer w;
  for (const auto& kv : f->metadata()) w.set(kv.key, kv.value);
  if (meta) meta(w);
  for (gguf_tensor t : f->tensors()) {
    if (!edit(t)) continue;
    REQUIRE(w.add_tensor(t.name, t.shape, t.type, std::span<const std::byte>(t.data, t.bytes)));
  }
  REQUIRE(w.write(dst).has_value());
}

} // namespace

TEST_CASE("hyper-parameters come from the metadata") {
  temp_dir dir("model-hp");
  SUBCASE("llama, untied") {
    auto m = make_model(dir, small_spec("llama", tensor_type::bf16, false), "l.gguf");
    const hparams& hp = m->params();
    CHECK(hp.arch == "llama");
    CHECK(hp.n_vocab == 512);
    CHECK(hp.n_embd == 256);
    CHECK(hp.n_layer == 2);
    CHECK(hp.n_head == 4);
    CHECK(hp.n_head_kv == 2);
    CHECK(hp.head_dim == 64);
    CHECK(hp.n_ff == 512);
    CHECK(hp.rope == rope_style::adjacent);
    CHECK_FALSE(hp.qkv_bias);
    CHECK_FALSE(hp.tied_output);
    CHECK(m->output().data != m->token_embd().data);
    CHECK(m->layers().size() == 2);
    CHECK(m->layers()[1].w_down.rows == 256);
    CHECK(m->layers()[1].w_down.cols == 512);
  }
  SUBCASE("qwen2, tied") {
    auto m = make_model(dir, small_spec("qwen2", tensor_type::f16, true), "q.gguf");
    const hparams& hp = m->params();
    CHECK(hp.rope == rope_style::halves);
    CHECK(hp.qkv_bias);
    CHECK(hp.tied_output);
    CHECK(m->output().data == m->token_embd().data);
    CHECK(m->layers()[0].bq != nullptr);
  }
}

TEST_CASE("bad models are errors naming what is wrong") {
  temp_dir dir("model-bad");
  const auto good = dir / "good.gguf";
  (void)make_model(dir, small_spec("llama", tensor_type::f32, false), "good.gguf");
  const auto bad = dir / "bad.gguf";

  SUBCASE("unknown architecture") {
    rewrite(good, bad, [](gguf_tensor&) { return true; },
            [](gguf_writer& w) { w.set("general.architecture", "mamba"); });
    auto m = model::load(bad.string());
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == errc::unsupported);
    CHECK(m.error().message.find("mamba") != std::string::npos);
  }
  SUBCASE("missing tensor") {
    rewrite(good, bad, [](gguf_tensor& t) { return t.name != "blk.1.ffn_up.weight"; });
    auto m = model::load(bad.string());
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().message.find("blk.1.ffn_up.weight") != std::string::npos);
  }
  SUBCASE("wrong shape") {
    rewrite(good, bad, [](gguf_tensor& t) {
      if (t.name == "blk.0.ffn_gate.weight") std::swap(t.shape[0], t.shape[1]);
      return true;
    });
    auto m = model::load(bad.string());
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == errc::invalid_file);
    CHECK(m.error().message.find("blk.0.ffn_gate.weight") != std::string::npos);
  }
  SUBCASE("missing metadata") {
    auto f = gguf_file::open(good);
    REQUIRE(f.has_value());
    gguf_writer w;
    for (const auto& kv : f->metadata())
      if (kv.key != "llama.block_count") w.set(kv.key, kv.value);
    for (const auto& t : f->tensors())
      REQUIRE(w.add_tensor(t.name, t.shape, t.type, std::span<const std::byte>(t.data, t.bytes)));
    REQUIRE(w.write(bad).has_value());
    auto m = model::load(bad.string());
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().message.find("llama.block_count") != std::string::npos);
  }
  SUBCASE("missing file") {
    auto m = model::load((dir / "nope.gguf").string());
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == errc::io);
  }
}
