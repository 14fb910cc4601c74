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

void model_worker::run() {
  while (queue_.wait(!active_.empty())) {
    drop_cancelled_and_expired();
    admit();
    if (!active_.empty()) step();
  }
  while (!active_.empty())
    end(active_.size() - 1, runtime::fail(errc::stopped, "the inference engine is shutting down"));
}

void model_worker::drop_cancelled_and_expired() {
  for (const auto& id : queue_.take_cancelled()) {
    auto it = std::find_if(active_.begin(), active_.end(), [&id](const active_request& a) { return a.id() == id; });
    if (it != active_.end())
      end(static_cast<std::size_t>(it - active_.begin()),
          runtime::fail(errc::cancelled, fmt::format("generation {} cancelled", id)));
  }
  const auto now = now_ms();
  for (auto& r : queue_.take_expired(now))
    fail(r, errc::timeout, fmt::format("generation {} passed its deadline while waiting", r.request.request_id));
  for (std::size_t i = active_.size(); i-- > 0;)
    if (active_[i].deadline_ms() > 0 && active_[i].deadline_ms() <= now)
      end(i, runtime::fail(errc::timeout, fmt::format("generation {} passed its deadline", active_[i].id())));
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

void model_worker::admit() {
  const std::size_t free = options_.max_sequences - active_.size();
  for (auto& r : queue_.pop(free)) {
    const auto& id = r.request.request_id;
    auto prompt = prompt_tokens(tok_, format_, r.request.messages);
    std::string problem;
    if (!prompt) problem = prompt.error().message;
    else keep_tail(*prompt, r.request.sampling.max_tokens);
    auto seq = problem.empty() ? ctx_->seq_create() : inference::result<inference::seq_id>{};
    if (problem.empty() && !seq) problem = seq.error().message;
    if (!problem.empty()) {
      queue_.finished(id);
      fail(r, errc::invalid_argument, fmt::format("generation {}: {}", id, problem));
      continue;
    }
    std::size_t reused = 0;
    if (options_.prefix_cache) reused = ctx_->seq_attach_prefix(*seq, *prompt).value_or(0);
    counters_.prompt_tokens.fetch_add(prompt->size(), std::memory_order_relaxed);
    counters_.prefix_hit_tokens.fetch_add(reused, std::memory_order_relaxed);
    counters_.prompt_tokens_computed.fetch_add(prompt->size() - reused, std::memory_order_relaxed);
    active_.emplace_back(std::move(r), *seq, std::move(*prompt), reused);
  }
}

void model_worker::step() {
  // 3. One batch: prompt chunks within the budget, one token of each decoding request.
  inference::batch b;
  std::vector<std::size_t> wants_row;  // active_ index of each logits row, in row order
  std::size_t budget = options_.prefill_chunk_tokens;
  for (std::size_t i = 0; i < active_.size(); ++i) {
    auto e = active_[i].next_entry(budget);
    if (!e) continue;
    if (e->logits != inference::logits_mode::none) wants_row.push_back(i);
    b.entries.push_back(std::move(*e));
  }
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
    std::vector<inference::seq_id> in_batch;
    for (const auto& e : b.entries) in_batch.push_back(e.seq);
    for (std::size_t i = active_.size(); i-- > 0;)
      if (std::find(in_batch.begin(), in_batch.end(), active_[i].seq()) != in_batch.end())
        end(i, runtime::fail(errc::agent_failed, message));
    return;
  }
  const std::size_t n_vocab = ctx_->n_vocab();
  std::vector<std::pair<std::size_t, std::string>> done;  // active_ index, finish reason
  for (std::size_t row = 0; row < wants_row.size(); ++row) {
    const std::span<const float> logits(logits_.data() + row * n_vocab, n_vocab);
    if (auto reason = active_[wants_row[row]].on_logits(logits, tok_, ctx_->n_ctx()))
      done.emplace_back(wants_row[row], std::move(*reason));
  }
  for (auto it = done.rbegin(); it != done.rend(); ++it)  // highest index first: erase keeps the rest
    end(it->first, active_[it->first].result(it->second));
}

} // namespace troupe::runtime::detail
