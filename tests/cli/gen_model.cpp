// `troupe gen-model`: writes a model matching the options; bad options give exit codes.
#include <doctest/doctest.h>

#include <troupe/inference/gguf.hpp>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using namespace troupe::inference;
using troupe::test::run_command;

TEST_CASE("gen-model writes the requested model") {
  troupe::test::temp_dir dir;
  const auto out = dir / "m.gguf";
  auto r = run_command(troupe::test::troupe_bin() + " gen-model --out " + out.string() +
                       " --arch qwen2 --type f16 --n-embd 64 --n-head 4 --n-head-kv 1"
                       " --n-layer 3 --n-ff 128 --n-vocab 300 --tied --seed 7");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(r.output.find("wrote ") != std::string::npos);
  auto f = gguf_file::open(out);
  REQUIRE_MESSAGE(f.has_value(), f.error().message);
  CHECK(*f->get_string("general.architecture") == "qwen2");
  CHECK(*f->get_u32("qwen2.embedding_length") == 64);
  CHECK(*f->get_u32("qwen2.block_count") == 3);
  CHECK(*f->get_u32("qwen2.attention.head_count_kv") == 1);
  CHECK(f->find_tensor("output.weight") == nullptr);
  CHECK(f->find_tensor("blk.2.attn_v.bias") != nullptr);
  CHECK(f->find_tensor("blk.0.ffn_up.weight")->type == tensor_type::f16);
  CHECK(f->get_string_array("tokenizer.ggml.tokens")->size() == 300);
}

TEST_CASE("gen-model rejects bad options with exit codes") {
  troupe::test::temp_dir dir;
  const std::string bin = troupe::test::troupe_bin() + " gen-model --out " + (dir / "m.gguf").string();
  auto missing = run_command(troupe::test::troupe_bin() + " gen-model");
  CHECK(missing.status == 2);
  auto preset = run_command(bin + " --preset giant");
  CHECK(preset.status == 2);
  CHECK(preset.output.find("unknown model preset 'giant'") != std::string::npos);
  auto type = run_command(bin + " --type q9_9");
  CHECK(type.status == 2);
  CHECK(type.output.find("unknown tensor type 'q9_9'") != std::string::npos);
  auto heads = run_command(bin + " --n-head 3");
  CHECK(heads.status == 2);
  CHECK(heads.output.find("not a multiple of n_head 3") != std::string::npos);
  auto dir_missing = run_command(troupe::test::troupe_bin() + " gen-model --out " +
                                 (dir / "no/such/m.gguf").string());
  CHECK(dir_missing.status == 1);
  CHECK_FALSE(std::filesystem::exists(dir / "m.gguf"));
}
