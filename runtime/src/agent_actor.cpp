// The agent actor: drains the bounded inbox, runs the behavior, tracks requests/generations.
#include "agent_actor.hpp"

#include <chrono>
#include <exception>
#include <mutex>
#include <utility>

#include <caf/blocking_actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <fmt/format.h>

#include "envelope_alloc.hpp"
#include "troupe/runtime/topic.hpp"

namespace troupe::runtime::detail {
namespace {

/// Most envelopes handled per wake before yielding to other actors (and to tasks/timeouts).
constexpr int drain_batch = 128;

void fill(envelope& e, const agent_ctx& st, std::string_view to, std::string content,
          std::map<std::string, std::string> metadata, message_kind kind) {
  e.sender = st.cell->spec.name;
  e.recipient.assign(to.data(), to.size());
  e.content = std::move(content);
  e.metadata = std::move(metadata);
  e.kind = kind;
}

/// Built in its final (shared) place and stamped (id, timestamp, conversation): a direct
/// message is never moved or copied after this. Each field is initialized once, straight from
/// its source (no default-constructed string assigned to later); an id or a name fits
/// std::string's inline buffer, so each is one small copy. `answering` is the request a reply
/// answers (its id becomes the parent, its conversation is kept), else null.
std::shared_ptr<envelope> make_shared_envelope(const agent_ctx& st, std::string_view to, std::string content,
                                               std::map<std::string, std::string> metadata,
                                               message_kind kind, const envelope* answering = nullptr) {
  return build_envelope([&] {
    std::string id = st.cell->owner.make_id();
    const std::string* conversation = &id;
    if (answering)
      conversation = !answering->conversation_id.empty() ? &answering->conversation_id
                     : !answering->id.empty()            ? &answering->id
                                                         : &id;
    return envelope{
      .version = envelope_version,
      .id = id,
      .sender = st.cell->spec.name,
      .recipient = std::string{to},
      .topic = {},
      .conversation_id = conversation == &id ? std::string{std::move(id)} : std::string{*conversation},
      .parent_id = answering ? answering->id : std::string{},
      .timestamp_ms = coarse_now_ms(),
      .content = std::move(content),
      .metadata = std::move(metadata),
      .kind = kind,
    };
  });
}

/// The streamed pieces of one generation on their way from the inference client's thread to
/// the agent. CAF's mailbox is unbounded, so the bound lives here: at most one relay task per
/// generation is queued in the agent's CAF mailbox at any time. The client's thread appends
/// each piece to `pending` (under the lock) and posts a task only when none is queued; the
/// task takes everything pending at once, so pieces that arrive while the agent is busy reach
/// `on_piece` concatenated, in order, none lost. Memory: the text not yet handed over (at most
/// the generation's own output). `on_done` is posted after the client's last piece, so it runs
/// after the task that hands that piece over.
class piece_relay {
public:
  /// Appends (client thread); true when the caller must post a relay task.
  bool add(std::string_view piece) {
    std::lock_guard<std::mutex> guard{mutex_};
    pending_.append(piece);
    return !std::exchange(queued_, true);
  }
  /// Takes the pending text (agent thread); the next `add` posts a new task.
  std::string take() {
    std::lock_guard<std::mutex> guard{mutex_};
    queued_ = false;
    return std::exchange(pending_, std::string{});
  }

private:
  std::mutex mutex_;
  std::string pending_;
  bool queued_ = false;
};

} // namespace

result<void> agent_ctx::send_direct(std::shared_ptr<envelope> message) {
  auto& owner = cell->owner;
  // Kept (not copied) when a cached peer turns out to have stopped: the same envelope then
  // goes to whoever has the name now.
  std::shared_ptr<const envelope> shared = std::move(message);
  const auto& to = shared->recipient;
  // By reference: copying a cell_ptr would bump the peer's shared reference count, a cache
  // line every sender to that peer writes.
  const cell_ptr* cached = nullptr;
  if (last_peer && last_peer->spec.name == to) {
    cached = &last_peer;
  } else if (auto i = peers.find(to); i != peers.end()) {
    last_peer = i->second;
    cached = &last_peer;
  }
  if (cached) {
    auto r = owner.deliver(*cached, std::move(shared), self->context()); // kept if stopped
    if (r || r.error().code != errc::stopped)
      return r;
    peers.erase(to); // stopped: maybe a new agent has the name now
    last_peer.reset();
  }
  auto target = owner.agents.find(to);
  if (!target)
    return fail(errc::not_found, fmt::format("no agent named '{}'", to));
  if (peers.size() >= peer_cache_size)
    peers.clear();
  peers.emplace(to, target);
  last_peer = target;
  return owner.deliver(target, std::move(shared), self->context());
}

result<void> agent_ctx::send(std::string_view to, std::string content,
                               std::map<std::string, std::string> metadata) {
  return send_direct(make_shared_envelope(*this, to, std::move(content), std::move(metadata), message_kind::message));
}

result<void> agent_ctx::send(envelope message) {
  message.sender = cell->spec.name;
  if (!message.recipient.empty() && message.topic.empty()) {
    cell->owner.stamp(message);
    return send_direct(new_envelope(std::move(message)));
  }
  auto r = cell->owner.route(std::move(message), self->context());
  if (!r)
    return tl::make_unexpected(r.error());
  return {};
}

result<std::size_t> agent_ctx::publish(std::string_view topic, std::string content,
                                         std::map<std::string, std::string> metadata) {
  envelope e;
  fill(e, *this, {}, std::move(content), std::move(metadata), message_kind::message);
  e.topic = std::string{topic};
  return cell->owner.route(std::move(e), self->context());
}

void agent_ctx::request(std::string_view to, std::string content, std::int64_t timeout_ms,
                          reply_callback on_reply, std::map<std::string, std::string> metadata) {
  auto e = make_shared_envelope(*this, to, std::move(content), std::move(metadata), message_kind::request);
  auto id = e->id;
  pending.emplace(id, std::move(on_reply));
  auto r = send_direct(std::move(e));
  if (!r) {
    auto cb = std::move(pending[id]);
    pending.erase(id);
    cb(tl::make_unexpected(r.error()));
    return;
  }
  self->delayed_send(self, std::chrono::milliseconds{timeout_ms}, atoms::timeout_atom_v, id);
}

result<void> agent_ctx::reply(const envelope& request, std::string content,
                                std::map<std::string, std::string> metadata) {
  return send_direct(make_shared_envelope(*this, request.sender, std::move(content), std::move(metadata),
                                          message_kind::reply, &request));
}

result<void> agent_ctx::reply_error(const envelope& request, std::string message) {
  return reply(request, message, {{"error", message}});
}

const agent_spec& agent_ctx::spec() const {
  if (!spec_view)
    spec_view = std::make_unique<agent_spec>(cell->spec);
  if (cell->topics_version.load(std::memory_order_acquire) != spec_view_version)
    spec_view->subscriptions = cell->owner.agents.topics_of(*cell, spec_view_version);
  return *spec_view;
}

result<void> agent_ctx::subscribe(std::string_view pattern) {
  return cell->owner.agents.subscribe(cell->spec.name, pattern);
}

result<void> agent_ctx::unsubscribe(std::string_view pattern) {
  return cell->owner.agents.unsubscribe(cell->spec.name, pattern);
}

void agent_ctx::post(std::function<void(agent_ctx&)> fn) {
  caf::anon_send(caf::actor_cast<caf::actor>(self), atoms::task_atom_v, posted_task{std::move(fn)});
}

std::string agent_ctx::generate(generation_request request, piece_callback on_piece,
                                  done_callback on_done) {
  if (request.request_id.empty())
    request.request_id = cell->owner.make_id();
  if (request.agent.empty())
    request.agent = cell->spec.name;
  auto id = request.request_id;
  auto client = cell->owner.inference();
  if (!client) {
    post([on_done, agent = cell->spec.name](agent_ctx&) {
      on_done(fail(errc::no_engine,
                   fmt::format("no model engine available for agent '{}' (configure a model "
                               "or an inference client)", agent)));
    });
    return id;
  }
  const bool streams = static_cast<bool>(on_piece);
  generations.emplace(id, generation{std::move(on_piece), std::move(on_done)});
  if (request.deadline_ms > 0) {
    auto left = std::max<std::int64_t>(0, request.deadline_ms - now_ms());
    self->delayed_send(self, std::chrono::milliseconds{left}, atoms::gen_tmo_atom_v, id);
  }
  auto me = caf::actor_cast<caf::actor>(self);
  piece_callback relay_pieces; // none when the agent does not stream: no message per piece
  if (streams)
    relay_pieces = [me, id, relay = std::make_shared<piece_relay>()](std::string_view piece) {
      if (!relay->add(piece))
        return; // a relay task is queued already; it will hand this piece over too
      caf::anon_send(me, atoms::task_atom_v, posted_task{[id, relay](agent_ctx& st) {
        auto text = relay->take();
        if (auto g = st.generations.find(id); g != st.generations.end() && g->second.on_piece)
          g->second.on_piece(text);
      }});
    };
  client->generate(
    std::move(request), std::move(relay_pieces),
    [me, id](result<generation_result> outcome) {
      caf::anon_send(me, atoms::task_atom_v, posted_task{[id, outcome](agent_ctx& st) {
        auto g = st.generations.find(id);
        if (g == st.generations.end())
          return; // timed out or cancelled already
        auto done = std::move(g->second.on_done);
        st.generations.erase(g);
        done(outcome);
      }});
    });
  return id;
}

void agent_ctx::cancel_generation(std::string_view request_id) {
  auto g = generations.find(std::string{request_id});
  if (g == generations.end())
    return;
  auto done = std::move(g->second.on_done);
  generations.erase(g);
  if (auto client = cell->owner.inference())
    client->cancel(request_id);
  done(fail(errc::cancelled, fmt::format("generation {} cancelled", request_id)));
}

void agent_ctx::run_blocking(std::function<result<std::string>()> work,
                               std::function<void(result<std::string>)> done) {
  if (cell->owner.config.deterministic) {
    auto r = work();
    post([done, r](agent_ctx&) { done(r); });
    return;
  }
  // The actor handle goes in as a spawn argument, not a capture: with no arguments CAF
  // 0.17.6's init_fun_factory dereferences a null tuple pointer (UBSan: "reference binding
  // to null pointer" in init_fun_factory.hpp).
  self->system().spawn<caf::detached>(
    [work, done](caf::blocking_actor*, const caf::actor& me) {
      auto r = work();
      caf::anon_send(me, atoms::task_atom_v, posted_task{[done, r](agent_ctx&) { done(r); }});
    },
    caf::actor_cast<caf::actor>(self));
}

void agent_ctx::note(std::string detail) {
  cell->owner.emit(event_type::note, cell->spec.name, std::move(detail));
}

void agent_ctx::stop_run(std::string reason) { cell->owner.end_run(std::move(reason)); }

void agent_ctx::stop_self() { quit_after = true; }

void agent_ctx::deliver(const envelope& message) {
  if (cell->owner.wants_events())
    cell->owner.emit(event_type::delivered, cell->spec.name, {}, message);
  if (message.kind == message_kind::reply) {
    if (auto p = pending.find(message.parent_id); p != pending.end()) {
      auto cb = std::move(p->second);
      pending.erase(p);
      if (auto err = message.metadata.find("error"); err != message.metadata.end())
        cb(fail(errc::agent_failed, fmt::format("agent '{}' failed the request: {}",
                                                message.sender, err->second)));
      else
        cb(message);
      return;
    }
  }
  behavior->on_message(*this, message);
}

void drain_inbox(caf::stateful_actor<agent_state>* self) {
  auto& s = self->state.ctx;
  std::shared_ptr<const envelope> e;
  bool last = false;
  for (int n = 0; n < drain_batch; ++n) {
    if (!s.cell->inbox.pop(e, last))
      return;
    s.deliver(*e);
    e.reset();
    if (s.quit_after) {
      self->quit();
      return;
    }
    if (last) // the inbox is idle again; a later push sends a new wake
      return;
  }
  self->send(self, atoms::wake_atom_v); // more waiting: stay scheduled, let others run
}

agent_actor_type::agent_actor_type(caf::actor_config& cfg, cell_ptr cell) : stateful_actor(cfg) {
  state.ctx.cell = std::move(cell);
}

caf::behavior agent_actor_type::make_behavior() { return agent_actor(this, state.ctx.cell); }

caf::invoke_message_result agent_actor_type::consume(caf::mailbox_element& x) {
  // The inbox's wake is by far the most frequent message (one per idle-to-busy transition of
  // the inbox). It is handled here, before CAF's generic dispatch (system-message
  // categorization, pattern matching over the behavior's cases, the result visitor and its
  // response promise), which a wake needs none of: it carries no data, is never a request or a
  // response, and its handler returns nothing. Everything else takes CAF's path. An exception
  // from a behavior propagates as before (CAF's reactivate catches it and the actor fails).
  // The check is a pointer comparison with the inbox's reusable wake element; the rarer wakes
  // (allocated while that element was still in CAF's hands, or sent by the actor to itself)
  // take CAF's path to the same handler.
  if (state.ctx.cell->inbox.is_wake(&x)) {
    current_mailbox_element(&x);
    drain_inbox(this);
    return caf::invoke_message_result::consumed;
  }
  return stateful_actor::consume(x);
}

caf::behavior agent_actor(caf::stateful_actor<agent_state>* self, cell_ptr cell) {
  auto& st = self->state.ctx;
  st.self = self;
  st.cell = cell;
  self->set_exception_handler([cell](caf::scheduled_actor*, std::exception_ptr& ep) -> caf::error {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      cell->last_failure = e.what();
    } catch (...) {
      cell->last_failure = "unknown exception";
    }
    return caf::make_error(caf::sec::runtime_error);
  });
  self->send(self, atoms::start_atom_v);
  return {
    // Normally taken by agent_actor_type::consume before CAF's dispatch; kept for completeness.
    [self](atoms::wake_atom) { drain_inbox(self); },
    [self](atoms::start_atom) {
      auto& s = self->state.ctx;
      // A restart sees the current subscriptions; an agent whose subscriptions never changed
      // gets the cell's spec (no per-agent copy: idle agents stay small).
      const auto& spec = s.cell->topics_version.load(std::memory_order_acquire) == 0 ? s.cell->spec : s.spec();
      auto made = s.cell->factory(spec);
      if (!made)
        throw std::runtime_error(fmt::format("cannot create agent '{}': {}", s.cell->spec.name,
                                             made.error().message));
      s.behavior = std::move(*made);
      s.behavior->on_start(s);
      if (auto w = s.cell->inbox.attach(caf::actor_cast<caf::actor>(self)))
        self->send(w, atoms::wake_atom_v);
      if (s.quit_after)
        self->quit();
    },
    [self](atoms::timeout_atom, const std::string& id) {
      auto& s = self->state.ctx;
      auto p = s.pending.find(id);
      if (p == s.pending.end())
        return;
      auto cb = std::move(p->second);
      s.pending.erase(p);
      cb(fail(errc::timeout, fmt::format("request {} from '{}' got no reply in time", id,
                                         s.cell->spec.name)));
    },
    [self](atoms::gen_tmo_atom, const std::string& id) {
      auto& s = self->state.ctx;
      auto g = s.generations.find(id);
      if (g == s.generations.end())
        return;
      auto done = std::move(g->second.on_done);
      s.generations.erase(g);
      if (auto client = s.cell->owner.inference())
        client->cancel(id);
      done(fail(errc::timeout, fmt::format("generation {} passed its deadline", id)));
    },
    [self](atoms::task_atom, const posted_task& task) {
      task.fn(self->state.ctx);
      if (self->state.ctx.quit_after)
        self->quit();
    },
  };
}

} // namespace troupe::runtime::detail
