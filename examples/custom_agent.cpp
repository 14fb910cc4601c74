// A custom agent kind: register a factory by kind name, then spawn agents of that kind the
// same way a scenario would (by name). The kind keeps per-agent state and answers requests.
#include <troupe/troupe.hpp>

#include <cstdio>
#include <map>
#include <string>

namespace {

/// "tally": counts words over the conversation; a request "top" answers with the most
/// frequent word so far; any other request or message just adds its words.
class tally_agent final : public troupe::agent_behavior {
public:
  explicit tally_agent(std::size_t min_length) : min_length_(min_length) {}

  void on_start(troupe::agent_context& ctx) override {
    ctx.note("tally ready (" + std::to_string(counts_.size()) + " words known)");
  }

  void on_message(troupe::agent_context& ctx, const troupe::envelope& m) override {
    if (m.kind == troupe::message_kind::request && m.content == "top") {
      std::string best;
      int best_n = 0;
      for (const auto& [word, n] : counts_)
        if (n > best_n) {
          best = word;
          best_n = n;
        }
      (void)ctx.reply(m, best.empty() ? "(nothing yet)" : best + " x" + std::to_string(best_n));
      return;
    }
    std::string word;
    for (char c : m.content + " ") {
      if (c == ' ') {
        if (word.size() >= min_length_)
          ++counts_[word];
        word.clear();
      } else {
        word += c;
      }
    }
    if (m.kind == troupe::message_kind::request)
      (void)ctx.reply(m, "ok");
  }

private:
  std::size_t min_length_;
  std::map<std::string, int> counts_;
};

} // namespace

int main() {
  auto rt = troupe::make_runtime();

  // The factory reads the kind's options from agent_spec::params and may refuse bad ones.
  auto added = rt->kinds().add("tally", [](const troupe::agent_spec& spec)
                                   -> troupe::result<std::unique_ptr<troupe::agent_behavior>> {
    std::size_t min_length = 1;
    if (auto i = spec.params.find("min_length"); i != spec.params.end())
      min_length = std::stoul(i->second);
    if (min_length == 0)
      return troupe::runtime::fail(troupe::errc::invalid_argument, "min_length must be >= 1");
    return std::make_unique<tally_agent>(min_length);
  });
  if (!added)
    return 1;

  troupe::agent_spec spec;
  spec.name = "words";
  spec.kind = "tally";
  spec.params = {{"min_length", "4"}};
  spec.subscriptions = {"chat.#"};
  spec.mailbox = {64, troupe::overflow_policy::drop_oldest};
  if (auto ok = rt->spawn(spec); !ok) {
    std::fprintf(stderr, "%s\n", ok.error().message.c_str());
    return 1;
  }

  for (const char* line : {"the quick brown fox", "quick thinking wins", "a quick quiz"})
    (void)rt->publish("chat.general", line);
  (void)rt->ask("words", "jumps over the lazy quick dog", 1000); // a request also counts

  auto top = rt->ask("words", "top", 1000);
  std::printf("top word: %s\n", top ? top->content.c_str() : top.error().message.c_str());
  auto stats = rt->stats("words");
  if (stats)
    std::printf("mailbox: accepted %llu, processed %llu, dropped %llu\n",
                static_cast<unsigned long long>(stats->accepted),
                static_cast<unsigned long long>(stats->processed),
                static_cast<unsigned long long>(stats->dropped));
  return top && top->content == "quick x4" ? 0 : 1;
}
