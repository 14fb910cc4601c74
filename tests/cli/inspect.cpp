// `troupe inspect`: prints metadata (long arrays abbreviated) and the tensor table; a broken
// file gives the reader's message on stderr and exit code 3.
#include <doctest/doctest.h>

#include <fstream>

#include <troupe/inference/gguf_writer.hpp>
#include <troupe/inference/model_gen.hpp>

#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

using namespace troupe::inference;
using troupe::test::run_command;

TEST_CASE("inspect prints metadata and tensors") {
  troupe::test::temp_dir dir;
  const auto model = dir / "m.gguf";
  model_spec s;
  s.n_layer = 1;
  REQUIRE(write_random_model(s, model).has_value());
  auto r = run_command(troupe::test::troupe_bin() + " inspect " + model.string());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto& o = r.output;
  CHECK(o.find("GGUF version 3, alignment 32") != std::string::npos);
  CHECK(o.find("general.architecture") != std::string::npos);
  CHECK(o.find("\"llama\"") != std::string::npos);
  CHECK(o.find("string[512]") != std::string::npos);
  CHECK(o.find("[\"<unk>\", \"<s>\", \"</s>\", \"<0x00>\"") != std::string::npos);
  CHECK(o.find("... 504 more]") != std::string::npos);
  CHECK(o.find("<0x10>") == std::string::npos);  // abbreviated, not all 512 printed
  CHECK(o.find("tensors (12, ") != std::string::npos);
  CHECK(o.find("token_embd.weight") != std::string::npos);
  CHECK(o.find("256 x 512") != std::string::npos);
  CHECK(o.find("blk.0.ffn_down.weight") != std::string::npos);
}

TEST_CASE("inspect escapes and shortens strings") {
  troupe::test::temp_dir dir;
  gguf_writer w;
  w.set("template", std::string(200, 'x'));
  w.set("ctl", "a\nb\x01");
  REQUIRE(w.write(dir / "s.gguf").has_value());
  auto r = run_command(troupe::test::troupe_bin() + " inspect " + (dir / "s.gguf").string());
  REQUIRE(r.status == 0);
  CHECK(r.output.find("\"... (200 bytes)") != std::string::npos);
  CHECK(r.output.find("\"a\\nb\\x01\"") != std::string::npos);
}

TEST_CASE("inspect reports broken and missing files") {
  troupe::test::temp_dir dir;
  {
    std::ofstream(dir / "bad.gguf") << "GGUF but not really";
  }
  auto bad = run_command(troupe::test::troupe_bin() + " inspect " + (dir / "bad.gguf").string());
  CHECK(bad.status == 3);
  CHECK(bad.output.find("gguf: ") != std::string::npos);
  auto missing = run_command(troupe::test::troupe_bin() + " inspect " + (dir / "none.gguf").string());
  CHECK(missing.status == 1);
  CHECK(missing.output.find("cannot open") != std::string::npos);
}
