// Fuzzing the loader: mutated and random documents must only ever give a scenario or
// diagnostics (never a crash, an exception or an empty error list). Fixed seeds: deterministic.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include <troupe/runtime/scenario_loader.hpp>

#include "support/temp_dir.hpp"

using namespace troupe::runtime;

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(troupe::test::source_dir() / "configs/scenarios"))
    out.push_back(read(e.path()));
  for (const auto& e : std::filesystem::directory_iterator(troupe::test::source_dir() / "tests/data/scenarios/bad"))
    out.push_back(read(e.path()));
  std::sort(out.begin(), out.end());  // directory order is not deterministic
  return out;
}

/// Loads and checks the contract; returns true when the result was a valid scenario.
bool check_contract(const std::string& text) {
  load_options o;
  o.env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "TROUPE_MODEL") return std::string{"m.gguf"};
    return std::nullopt;
  };
  o.overrides = {"seed=3"};
  load_result r = load_scenario_text(text, "fuzz.yaml", o);
  if (r) {
    REQUIRE_FALSE(r->agents.empty());
    return true;
  }
  REQUIRE_FALSE(r.error().empty());
  for (const auto& d : r.error()) REQUIRE_FALSE(d.message.empty());
  return false;
}

const char* const fragments[] = {
    ":", "- ", "[", "]", "{", "}", "&a ", "*a", "!!int ", "? ", "|\n", ">\n", "\"", "'", "#",
    "\n  ", "\n", "${", "${X}", "$$", "\t", "---\n", "...\n", "%YAML 1.2\n", "<<: *a\n", ",",
    "agents:", "flow:", "type: selector", "max_turns: ", "-1", "1e999", "nan", "\xff\xfe", "\0",
};

std::string fmt_key(const char* k) { return std::string{k} + ": "; }

std::string random_yaml(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> pick(0, 5);
  const char* keys[] = {"name", "agents", "flow", "termination", "kind", "type", "any", "all",
                        "profiles", "topics", "max_turns", "stop_phrase", "rules", "x"};
  const char* scalars[] = {"a", "human", "llm", "router", "round_robin", "selector", "pipeline",
                           "3", "-7", "0.5", "\"q\"", "~", "true", "[]", "{}"};
  switch (depth > 4 ? 0 : pick(rng)) {
  case 0:
  case 1: return scalars[rng() % std::size(scalars)];
  case 2:
  case 3: {
    std::string s = "{";
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i)
      s += fmt_key(keys[rng() % std::size(keys)]) + random_yaml(rng, depth + 1) + (i + 1 < n ? ", " : "");
    return s + "}";
  }
  default: {
    std::string s = "[";
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) s += random_yaml(rng, depth + 1) + (i + 1 < n ? ", " : "");
    return s + "]";
  }
  }
}

} // namespace

TEST_CASE("byte flips, truncation and splices never crash the loader") {
  const auto base = seeds();
  REQUIRE(base.size() >= 10);
  std::mt19937 rng(20261124);
  int valid = 0;
  for (int iter = 0; iter < 6000; ++iter) {
    std::string text = base[rng() % base.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t pos = rng() % text.size();
      switch (rng() % 5) {
      case 0: text[pos] = static_cast<char>(rng() % 256); break;               // byte flip
      case 1: text.resize(pos); break;                                        // truncation
      case 2: text.insert(pos, fragments[rng() % std::size(fragments)]); break; // splice
      case 3: text.erase(pos, rng() % 16); break;                              // deletion
      default: {                                                               // duplicate a line
        const auto nl = text.find('\n', pos);
        const auto start = text.rfind('\n', pos);
        if (nl != std::string::npos && start != std::string::npos)
          text.insert(nl, text.substr(start, nl - start));
      }
      }
    }
    if (check_contract(text)) ++valid;
  }
  MESSAGE("mutations that were still valid scenarios: " << valid);
  CHECK(valid < 6000);
}

TEST_CASE("random YAML documents never crash the loader") {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 4000; ++iter) check_contract(random_yaml(rng, 0));
}

TEST_CASE("random overrides never crash the loader") {
  const auto text = read(troupe::test::source_dir() / "configs/scenarios/debate.yaml");
  const char* paths[] = {"agents", "agents.0", "agents.pro.role", "agents.9", "flow", "flow.type",
                         "termination.any", "termination.any.0.stop_phrase", "profiles.x.y.z",
                         "topics.debate.floor", "", ".", "a..b", "seed"};
  const char* values[] = {"", "x", "[", "{a: [b", "[1, 2]", "{type: pipeline}", "${NOPE}", "-3"};
  std::mt19937 rng(11);
  for (int iter = 0; iter < 2000; ++iter) {
    load_options o;
    o.env = [](const std::string&) -> std::optional<std::string> { return std::string{"m"}; };
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i)
      o.overrides.push_back(std::string{paths[rng() % std::size(paths)]} + "=" +
                            values[rng() % std::size(values)]);
    auto r = load_scenario_text(text, "debate.yaml", o);
    if (!r) REQUIRE_FALSE(r.error().empty());
  }
}
