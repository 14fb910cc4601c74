// Embedding troupe: build a runtime in code, spawn two agents, exchange direct messages,
// a request with a timeout and a topic publication, then read the transcript.
// Runs without a model: the agents are plain C++ functions.
#include <troupe/troupe.hpp>

#include <cstdio>
#include <string>

int main() {
  troupe::runtime_config config;
  config.transcript_capacity = 1000; // keep events for rt->transcript()
  auto rt = troupe::make_runtime(config);

  // "counter" answers requests with how many messages it has seen so far.
  troupe::agent_spec counter;
  counter.name = "counter";
  counter.kind = "function";
  counter.subscriptions = {"news.#"};
  int seen = 0; // touched only by counter's handler (one message at a time)
  auto count = troupe::from_function([&seen](troupe::agent_context& ctx, const troupe::envelope& m) {
    ++seen;
    if (m.kind == troupe::message_kind::request)
      (void)ctx.reply(m, std::to_string(seen));
  });
  if (auto ok = rt->spawn(counter, count); !ok) {
    std::fprintf(stderr, "spawn failed: %s\n", ok.error().message.c_str());
    return 1;
  }

  // "relay" forwards whatever it gets to counter, then asks for the count and stops the run.
  troupe::agent_spec relay;
  relay.name = "relay";
  auto forward = troupe::from_function([](troupe::agent_context& ctx, const troupe::envelope& m) {
    (void)ctx.send("counter", "fwd: " + m.content);
    ctx.request("counter", "how many?", 1000, [&ctx](troupe::result<troupe::envelope> r) {
      ctx.stop_run(r ? "counter has seen " + r->content : "no answer: " + r.error().message);
    });
  });
  if (auto ok = rt->spawn(relay, forward); !ok)
    return 1;

  // The host listens to the topic too, publishes once, and sends relay a message.
  auto sub = rt->subscribe("news.*", [](const troupe::envelope& m) {
    std::printf("host saw %s on %s\n", m.content.c_str(), m.topic.c_str());
  });
  if (!sub)
    return 1;
  auto receivers = rt->publish("news.today", "sunny");
  std::printf("publication accepted by %zu mailboxes\n", receivers ? *receivers : 0);
  (void)rt->send("relay", "hello");

  auto outcome = rt->wait(10'000);
  std::printf("run ended: %s\n", outcome ? outcome->c_str() : outcome.error().message.c_str());

  std::size_t delivered = 0;
  for (const auto& e : rt->transcript())
    delivered += e.type == troupe::event_type::delivered ? 1 : 0;
  std::printf("%zu deliveries in the transcript\n", delivered);
  return outcome ? 0 : 1;
}
