// The pool actor and the inference actors.
//
// An inference actor owns one target client (e.g. an engine_client, whose own worker thread
// does the forward passes, so the actor's handlers only queue work and never block). Its
// client's callbacks post pool_tasks to the pool actor, tagged with the attempt id. The pool
// actor monitors every inference actor: when one exits for any reason the pool did not ask
// for (killed, failed), the down message fails its attempts over to other targets.
#include "pool_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <fmt/format.h>

namespace troupe::runtime::detail {

namespace {

/// State of an inference actor: the client it owns. With `offload`, the client is released
/// on a detached helper when the actor ends (an engine's destructor joins its worker thread,
/// which must not happen on a scheduler thread).
struct target_state {
  std::shared_ptr<inference_client> client;
  caf::actor_system* sys = nullptr;
  bool offload = false;
  target_state() = default;
  target_state(const target_state&) = delete;
  target_state& operator=(const target_state&) = delete;
  ~target_state() {
    if (!offload || !client || sys == nullptr) return;
    // Passed as an argument: CAF 0.17.6 dereferences a null tuple for argument-less functors.
    sys->spawn<caf::detached>([](caf::blocking_actor*, std::shared_ptr<inference_client> c) { c.reset(); },
                              std::move(client));
  }
};

caf::behavior target_actor(caf::stateful_actor<target_state>* self, std::shared_ptr<inference_client> client,
                           bool offload) {
  self->state.client = std::move(client);
  self->state.sys = &self->system();
  self->state.offload = offload;
  return {
      [self](target_call& call) { call.fn(*self->state.client); },
  };
}

/// The pool_host of the pool actor: turns the core's requests into messages.
class actor_host final : public pool_host {
public:
  actor_host(caf::stateful_actor<pool_actor_state>* self, bool deterministic)
      : self_(self), deterministic_(deterministic) {}

  void start_attempt(std::uint64_t target_id, std::uint64_t attempt, const generation_request& request) override {
    auto it = self_->state.actors.find(target_id);
    if (it == self_->state.actors.end()) return;
    caf::actor pool = self_;
    self_->send(it->second, target_call{[pool, attempt, request](inference_client& c) {
                  c.generate(
                      request,
                      [pool, attempt](std::string_view piece) {
                        caf::anon_send(pool, pool_task{[attempt, text = std::string(piece)](pool_actor_state& st) {
                                         st.core->on_piece(attempt, text, st.core_now());
                                       }});
                      },
                      [pool, attempt](result<generation_result> outcome) {
                        auto shared = std::make_shared<result<generation_result>>(std::move(outcome));
                        caf::anon_send(pool, pool_task{[attempt, shared](pool_actor_state& st) {
                                         st.core->on_done(attempt, std::move(*shared));
                                       }});
                      });
                }});
  }

  void cancel_on(std::uint64_t target_id, const std::string& request_id) override {
    auto it = self_->state.actors.find(target_id);
    if (it == self_->state.actors.end()) return;
    self_->send(it->second, target_call{[request_id](inference_client& c) { c.cancel(request_id); }});
  }

  void start_instance(std::size_t group) override {
    const auto spec = self_->state.core->options().targets.at(group);
    auto factory = self_->state.core->options().factories.at(spec.kind);
    caf::actor pool = self_;
    auto build = [pool, group, spec, factory]() {
      auto made = factory(spec);
      std::shared_ptr<inference_client> client;
      std::string why;
      if (made) client = std::move(*made);
      else why = made.error().message;
      caf::anon_send(pool, pool_task{[group, client, why](pool_actor_state& st) {
                       st.add_ready(group, client, why);
                     }});
    };
    if (deterministic_) build();  // test factories are cheap; the result still arrives as a message
    else
      self_->system().spawn<caf::detached>([](caf::blocking_actor*, std::function<void()> fn) { fn(); },
                                           std::function<void()>(std::move(build)));
  }

  void stop_instance(std::uint64_t target_id, bool kill) override {
    auto it = self_->state.actors.find(target_id);
    if (it == self_->state.actors.end()) return;
    auto actor = it->second;
    self_->state.actors.erase(it);
    self_->state.ids.erase(actor.address());
    self_->demonitor(actor);
    self_->send_exit(actor, kill ? caf::exit_reason::kill : caf::exit_reason::user_shutdown);
  }

private:
  caf::stateful_actor<pool_actor_state>* self_;
  bool deterministic_;
};

caf::behavior pool_actor(caf::stateful_actor<pool_actor_state>* self, pool_options options,
                         std::shared_ptr<stats_box> box, std::vector<ready_instance> ready, bool deterministic) {
  auto& st = self->state;
  st.self = self;
  st.deterministic = deterministic;
  st.box = std::move(box);
  const auto tick_ms = options.elastic.tick_ms;
  st.host = std::make_unique<actor_host>(self, deterministic);
  st.core = std::make_unique<pool_core>(std::move(options), *st.host, [self] { return self->clock().now(); });
  for (auto& r : ready) st.add_ready(r.group, std::move(r.client), {});
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    auto it = s.ids.find(msg.source);
    if (it == s.ids.end()) return;  // stopped on purpose
    const auto id = it->second;
    s.ids.erase(it);
    s.actors.erase(id);
    s.core->on_instance_down(id, fmt::format("its inference actor exited ({})", caf::to_string(msg.reason)));
    s.publish();
  });
  if (tick_ms > 0) self->delayed_send(self, std::chrono::milliseconds(tick_ms), pool_atoms::pool_tick_atom_v);
  st.publish();
  return {
      [self](pool_task& task) {
        if (self->state.stopped) return;
        task.fn(self->state);
        self->state.publish();
      },
      [self, tick_ms](pool_atoms::pool_tick_atom) {
        if (self->state.stopped) return;
        self->state.core->tick(self->state.core_now());
        self->state.publish();
        self->delayed_send(self, std::chrono::milliseconds(tick_ms), pool_atoms::pool_tick_atom_v);
      },
  };
}

} // namespace

pool_time pool_actor_state::core_now() const { return self->clock().now(); }

void pool_actor_state::add_ready(std::size_t group, std::shared_ptr<inference_client> client, const std::string& why) {
  if (stopped) return;
  auto id = core->add_instance(group, client != nullptr, why);
  if (!id) return;
  auto actor = self->spawn(target_actor, std::move(client), !deterministic);
  self->monitor(actor);
  ids[actor.address()] = *id;
  actors[*id] = actor;
  core->kick();  // queued requests may start on it now
}

void pool_actor_state::publish() {
  auto s = core->stats();
  std::lock_guard<std::mutex> guard{box->mutex};
  box->stats = std::move(s);
}

caf::actor spawn_pool_actor(caf::actor_system& sys, pool_options options, std::shared_ptr<stats_box> box,
                            std::vector<ready_instance> ready, bool deterministic) {
  return sys.spawn(pool_actor, std::move(options), std::move(box), std::move(ready), deterministic);
}

} // namespace troupe::runtime::detail
