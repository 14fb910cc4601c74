#include "inference/model_worker.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "troupe/runtime/envelope.hpp"

namespace troupe::runtime::detail {

result<std::unique_ptr<model_worker>> model_worker::load(const std::string& path, const engine_options& options) {
  const auto bad = [&path](const inference::error& e) {
    return runtime::fail(errc::invalid_argument, fmt::format("cannot load model '{}': {}", path, e.message));
  };
  auto m = inference::model::load(path);
  if (!m) return bad(m.error());
  auto tok = inference::tokenizer::from_gguf((*m)->file());
  if (!tok) return bad(tok.error());
  inference::context_params cp;
  cp.n_seq_max = std::max<std::size_t>(options.max_sequences, 1);
  const std::size_t n_ctx_train = (*m)->params().n_ctx_train;
  cp.n_ctx = options.context_tokens;
  if (n_ctx_train > 0 && cp.n_ctx > n_ctx_train) cp.n_ctx = n_ctx_train;  // no use beyond training
  cp.n_threads = options.n_threads;
  cp.kv_block_tokens = options.kv_block_tokens;
  cp.kv_budget_bytes = options.kv_budget_bytes;
  if (options.kv_type == "f16" || options.kv_type == "F16") cp.kv_type = inference::tensor_type::f16;
  else if (options.kv_type == "f32" || options.kv_type == "F32") cp.kv_type = inference::tensor_type::f32;
  else return runtime::fail(errc::invalid_argument, fmt::format("kv_type '{}' is not f16 or f32", options.kv_type));
  auto ctx = inference::context::create(*m, cp);
  if (!ctx) return bad(ctx.error());
  return std::unique_ptr<model_worker>(
      new model_worker(path, std::move(*m), std::move(*tok), std::move(*ctx), options));
}

model_worker::model_worker(std::string path, std::shared_ptr<const inference::model> m, inference::tokenizer tok,
                           std::unique_ptr<inference::context> ctx, const engine_options& options)
    : path_(std::move(path)),
      model_(std::move(m)),
      tok_(std::move(tok)),
      ctx_(std::move(ctx)),
      options_(options),
      queue_(options.queue_capacity) {
  options_.max_sequences = std::max<std::size_t>(options_.max_sequences, 1);
  options_.prefill_chunk_tokens = std::max<std::size_t>(options_.prefill_chunk_tokens, 1);
  if (auto t = model_->file().get_string("tokenizer.chat_template")) format_.chat_template = std::string{*t};
  thread_ = std::thread([this] { run(); });
}

model_worker::~model_worker() { stop(); }

void model_worker::submit(queued_request r) {
  switch (queue_.push(r)) {
    case request_queue::push_status::queued: return;
    case request_queue::push_status::full:
      return fail(r, errc::overloaded,
                  fmt::format("inference queue of '{}' is full ({} requests waiting); retry in about {} ms",
                              path_, options_.queue_capacity, options_.retry_after_ms));
    case request_queue::push_status::closed:
      return fail(r, errc::stopped, "the inference engine is shutting down");
    case request_queue::push_status::duplicate_id:
      return fail(r, errc::invalid_argument,
                  fmt::format("request id '{}' is already in use", r.request.request_id));
  }
}

void model_worker::cancel(std::string_view id) {
  if (auto r = queue_.cancel(id)) fail(*r, errc::cancelled, fmt::format("generation {} cancelled", id));
}

void model_worker::stop() {
  for (auto& r : queue_.close()) fail(r, errc::stopped, "the inference engine is shutting down");
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void model_worker::fail(queued_request& r, errc code, std::string message) {
  counters_.failed.fetch_add(1, std::memory_order_relaxed);
  if (auto done = std::move(r.on_done)) done(runtime::fail(code, std::move(message)));
}

void model_worker::end(std::size_t index, runtime::result<generation_result> outcome) {
  auto& a = active_[index];
  (void)ctx_->seq_remove(a.seq());
  queue_.finished(a.id());
  (outcome ? counters_.completed : counters_.failed).fetch_add(1, std::memory_order_relaxed);
  a.finish(std::move(outcome));
  active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(index));
}

void model_worker::end_waiting(std::size_t index, runtime::result<generation_result> outcome) {
  auto& a = waiting_[index];
  queue_.finished(a.id());
  (outcome ? counters_.completed : counters_.failed).fetch_add(1, std::memory_order_relaxed);
  a.finish(std::move(outcome));
  waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(index));
}

void model_worker::run() {
  while (queue_.wait(!active_.empty() || !waiting_.empty())) {
    drop_cancelled_and_expired();
    step();
  }
  const auto stopped = [] { return runtime::fail(errc::stopped, "the inference engine is shutting down"); };
  while (!active_.empty()) end(active_.size() - 1, stopped());
  while (!waiting_.empty()) end_waiting(waiting_.size() - 1, stopped());
}

void model_worker::drop_cancelled_and_expired() {
  const auto by_id = [](const std::string& id) { return [&id](const active_request& a) { return a.id() == id; }; };
  for (const auto& id : queue_.take_cancelled()) {
    const auto cancelled = [&id] { return runtime::fail(errc::cancelled, fmt::format("generation {} cancelled", id)); };
    if (auto it = std::find_if(active_.begin(), active_.end(), by_id(id)); it != active_.end())
      end(static_cast<std::size_t>(it - active_.begin()), cancelled());
    else if (auto w = std::find_if(waiting_.begin(), waiting_.end(), by_id(id)); w != waiting_.end())
      end_waiting(static_cast<std::size_t>(w - waiting_.begin()), cancelled());
  }
  const auto now = now_ms();
  for (auto& r : queue_.take_expired(now))
    fail(r, errc::timeout, fmt::format("generation {} passed its deadline while waiting", r.request.request_id));
  const auto expired = [now](const active_request& a) { return a.deadline_ms() > 0 && a.deadline_ms() <= now; };
  const auto timeout = [](const active_request& a) {
    return runtime::fail(errc::timeout, fmt::format("generation {} passed its deadline", a.id()));
  };
  for (std::size_t i = active_.size(); i-- > 0;)
    if (expired(active_[i])) end(i, timeout(active_[i]));
  for (std::size_t i = waiting_.size(); i-- > 0;)
    if (expired(waiting_[i])) end_waiting(i, timeout(waiting_[i]));
}

void model_worker::keep_tail(std::vector<std::int32_t>& prompt, int max_tokens) const {
  // Room for the reply: max_tokens, but at most a quarter of the context.
  const std::size_t n_ctx = ctx_->n_ctx();
  const std::size_t reserve = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(max_tokens, 1)), 1, n_ctx / 4 + 1);
  const std::size_t keep = n_ctx - reserve;
  if (prompt.size() <= keep) return;
  const bool bos = tok_.bos() >= 0 && prompt.front() == tok_.bos();
  const auto drop = static_cast<std::ptrdiff_t>(prompt.size() - keep);
  prompt.erase(prompt.begin() + (bos ? 1 : 0), prompt.begin() + (bos ? 1 : 0) + drop);
}

std::string model_worker::too_big(const active_request& a, std::size_t positions) const {
  const auto st = ctx_->cache_stats();
  return fmt::format(
      "generation {}: KV budget too small: the request needs {} blocks of {} tokens ({} prompt tokens + up to {} "
      "generated), the KV budget of '{}' holds {} blocks ({} bytes); raise kv_budget_mb or lower max_tokens",
      a.id(), (positions + st.block_tokens - 1) / st.block_tokens, st.block_tokens, a.prompt_size(),
      positions - a.prompt_size() + 1, path_, st.blocks_total, st.bytes);
}

active_request* model_worker::next_waiting() {
  if (!waiting_.empty()) return &waiting_.front();
  while (active_.size() < options_.max_sequences) {
    auto popped = queue_.pop(1);
    if (popped.empty()) return nullptr;
    auto& r = popped.front();
    const auto id = r.request.request_id;
    auto prompt = prompt_tokens(tok_, format_, r.request.messages);
    if (!prompt) {
      queue_.finished(id);
      fail(r, errc::invalid_argument, fmt::format("generation {}: {}", id, prompt.error().message));
      continue;
    }
    keep_tail(*prompt, r.request.sampling.max_tokens);
    waiting_.emplace_back(std::move(r), std::move(*prompt));
    const auto st = ctx_->cache_stats();
    const std::size_t positions = waiting_.back().max_positions(ctx_->n_ctx());
    if ((positions + st.block_tokens - 1) / st.block_tokens > st.blocks_total) {
      end_waiting(0, runtime::fail(errc::invalid_argument, too_big(waiting_.back(), positions)));
      continue;
    }
    return &waiting_.front();
  }
  return nullptr;
}

void model_worker::preempt(std::size_t index) {
  auto& a = active_[index];
  (void)ctx_->seq_remove(a.seq());
  a.preempt();
  waiting_.push_front(std::move(a));
  active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(index));
  counters_.preemptions.fetch_add(1, std::memory_order_relaxed);
}

bool model_worker::plan_running(plan& p) {
  bool changed = false;
  for (;;) {
    p = plan{};
    p.budget = options_.prefill_chunk_tokens;
    const std::size_t bt = ctx_->cache_stats().block_tokens;
    for (std::size_t i = 0; i < active_.size(); ++i) {
      const bool prefilling = active_[i].prefilling();
      if (prefilling) p.promised += active_[i].prefill_blocks_left(bt);
      auto e = active_[i].next_entry(p.budget);
      if (!e) continue;
      const std::size_t need = ctx_->blocks_needed(*e).value_or(0);
      p.blocks += need;
      if (!prefilling) p.promised += need;
      p.owner.push_back(i);
      p.batch.entries.push_back(std::move(*e));
    }
    if (p.blocks <= ctx_->blocks_available()) return !changed;
    changed = true;
    if (active_.size() > 1) {
      preempt(active_.size() - 1);  // the most recently admitted
      continue;
    }
    // Alone and still too big: admission rules this out; fail it rather than loop.
    const std::size_t positions = active_.front().max_positions(ctx_->n_ctx());
    end(0, runtime::fail(errc::invalid_argument, too_big(active_.front(), positions)));
  }
}

void model_worker::admit(plan& p) {
  const auto st = ctx_->cache_stats();
  const std::size_t bt = st.block_tokens;
  // A budget holding every slot's whole context never preempts: no room to keep then.
  const bool roomy = st.blocks_total >= options_.max_sequences * ((ctx_->n_ctx() + bt - 1) / bt);
  while (active_.size() < options_.max_sequences) {
    active_request* a = next_waiting();
    if (a == nullptr) return;
    // All its tokens must fit in the blocks left, with one block of room for each running
    // request to grow (prefix reuse can only lower the need), or it waits.
    const std::size_t need = (a->tokens().size() + bt - 1) / bt + (roomy ? 0 : active_.size());
    if (p.promised + need > ctx_->blocks_available()) return;
    auto seq = ctx_->seq_create();
    if (!seq) return;  // cannot happen: a free slot is checked above
    std::size_t reused = 0;
    if (options_.prefix_cache) reused = ctx_->seq_attach_prefix(*seq, a->tokens()).value_or(0);
    const bool resumed = a->preempted();
    const std::size_t n = a->tokens().size();
    if (resumed) {
      counters_.recomputed_tokens.fetch_add(n - reused, std::memory_order_relaxed);
    } else {
      counters_.prompt_tokens.fetch_add(n, std::memory_order_relaxed);
      counters_.prefix_hit_tokens.fetch_add(reused, std::memory_order_relaxed);
      counters_.prompt_tokens_computed.fetch_add(n - reused, std::memory_order_relaxed);
    }
    a->attach(*seq, reused);
    active_.push_back(std::move(*a));
    waiting_.pop_front();
    p.promised += active_.back().prefill_blocks_left(bt);
    if (auto e = active_.back().next_entry(p.budget)) {
      p.blocks += ctx_->blocks_needed(*e).value_or(0);
      p.owner.push_back(active_.size() - 1);
      p.batch.entries.push_back(std::move(*e));
    }
  }
}

void model_worker::step() {
  // 2. and 3. One batch that fits the KV cache: running requests first, then new ones.
  plan p;
  if (plan_running(p)) admit(p);
  inference::batch& b = p.batch;
  if (b.entries.empty()) return;
  counters_.steps.fetch_add(1, std::memory_order_relaxed);
  std::size_t seen = counters_.max_batch_sequences.load(std::memory_order_relaxed);
  while (b.entries.size() > seen &&
         !counters_.max_batch_sequences.compare_exchange_weak(seen, b.entries.size())) {}

  // 4. One forward pass for all of them.
  auto ok = ctx_->decode(b, logits_);
  counters_.kv_evictions.store(ctx_->cache_stats().evictions, std::memory_order_relaxed);
  if (!ok) {
    const auto message = fmt::format("engine error on '{}': {}", path_, ok.error().message);
    for (auto it = p.owner.rbegin(); it != p.owner.rend(); ++it)  // highest index first
      end(*it, runtime::fail(errc::agent_failed, message));
    return;
  }
  const std::size_t n_vocab = ctx_->n_vocab();
  std::vector<std::pair<std::size_t, std::string>> done;  // active_ index, finish reason
  std::size_t row = 0;
  for (std::size_t k = 0; k < b.entries.size(); ++k) {
    auto& a = active_[p.owner[k]];
    a.advanced(b.entries[k].tokens.size());
    if (b.entries[k].logits == inference::logits_mode::none) continue;
    const std::span<const float> logits(logits_.data() + row++ * n_vocab, n_vocab);
    if (auto reason = a.on_logits(logits, tok_, ctx_->n_ctx())) done.emplace_back(p.owner[k], std::move(*reason));
  }
  for (auto it = done.rbegin(); it != done.rend(); ++it)  // highest index first: erase keeps the rest
    end(it->first, active_[it->first].result(it->second));
}

} // namespace troupe::runtime::detail
