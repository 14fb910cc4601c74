// A separate project that finds troupe with find_package and uses its public header:
// two agents exchange a message, the host checks the answer.
#include <troupe/troupe.hpp>

#include <cstdio>

int main() {
  std::printf("troupe %.*s\n", static_cast<int>(troupe::version.size()), troupe::version.data());
  auto rt = troupe::make_runtime();
  troupe::agent_spec ping, pong;
  ping.name = "ping";
  pong.name = "pong";
  auto ok = rt->spawn(pong, troupe::from_function([](troupe::agent_context& ctx, const troupe::envelope& m) {
    (void)ctx.reply(m, "pong:" + m.content);
  }));
  ok = ok ? rt->spawn(ping, troupe::from_function([](troupe::agent_context& ctx, const troupe::envelope& m) {
    ctx.request("pong", m.content, 5000, [&ctx, m](troupe::result<troupe::envelope> r) {
      (void)ctx.reply(m, r ? r->content : "error: " + r.error().message);
    });
  })) : ok;
  if (!ok)
    return 1;
  auto answer = rt->ask("ping", "hello", 10'000);
  std::printf("%s\n", answer ? answer->content.c_str() : answer.error().message.c_str());
  return answer && answer->content == "pong:hello" ? 0 : 1;
}
