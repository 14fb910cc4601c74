// An llm agent in an embedding program: troupe's own engine on the project's toy model (or
// any GGUF given as the first argument / $TROUPE_MODEL), one agent with a role, asked a
// question by the host. The reply is generated text, streamed through the inference boundary.
#include <troupe/runtime/engine_client.hpp>
#include <troupe/troupe.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  std::string model = TROUPE_EXAMPLE_MODEL;  // models/troupe-tiny-en.gguf in the source tree
  if (const char* env = std::getenv("TROUPE_MODEL"); env != nullptr && *env != '\0') model = env;
  if (argc > 1) model = argv[1];

  troupe::runtime::engine_options engine;
  engine.default_model = model;  // every profile uses this file
  engine.max_sequences = 2;
  auto client = troupe::runtime::make_engine_client(engine);
  if (!client) {
    std::fprintf(stderr, "cannot start the engine: %s\n", client.error().message.c_str());
    return 1;
  }

  auto rt = troupe::make_runtime();
  rt->set_inference_client(*client);

  troupe::agent_spec poet;
  poet.name = "poet";
  poet.kind = "llm";
  poet.role = "You are a poet. Answer in one sentence.";
  poet.params = {{"temperature", "0.7"}, {"seed", "7"}, {"max_tokens", "40"}, {"stop", "\n"}};
  if (auto ok = rt->spawn(poet); !ok) {
    std::fprintf(stderr, "spawn failed: %s\n", ok.error().message.c_str());
    return 1;
  }

  auto answer = rt->ask("poet", "What do you see from the window?", 60000);
  if (!answer) {
    std::fprintf(stderr, "no answer: %s\n", answer.error().message.c_str());
    return 1;
  }
  std::printf("poet: %s\n", answer->content.c_str());
  rt->shutdown();
  (*client)->shutdown();
  return 0;
}
