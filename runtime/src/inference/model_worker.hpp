// One loaded model and the worker thread that runs it: continuous batching over a fixed number
// of sequence slots of one engine context.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <troupe/inference/context.hpp>
#include <troupe/inference/model.hpp>
#include <troupe/inference/vocab.hpp>

#include "inference/active_request.hpp"
#include "inference/prompt.hpp"
#include "inference/request_queue.hpp"
#include "troupe/runtime/engine_client.hpp"

namespace troupe::runtime::detail {

/// Counters a worker updates and any thread reads.
struct worker_counters {
  std::atomic<std::size_t> steps{0};
  std::atomic<std::size_t> max_batch_sequences{0};
  std::atomic<std::size_t> completed{0};
  std::atomic<std::size_t> failed{0};
  std::atomic<std::size_t> prompt_tokens{0};
  std::atomic<std::size_t> prefix_hit_tokens{0};
  std::atomic<std::size_t> prompt_tokens_computed{0};
  std::atomic<std::size_t> kv_evictions{0};
  std::atomic<std::size_t> preemptions{0};
  std::atomic<std::size_t> recomputed_tokens{0};
};

/// Runs one model. Callers hand requests over through submit() and cancel(); the worker
/// thread (started by the constructor, joined by stop()) does everything else. Each step of
/// its loop:
///   1. drops cancelled and expired requests (their sequence slots free at once),
///   2. plans one batch: a prompt chunk of each prefilling request (prefill_chunk_tokens in
///      all, oldest request first) and the last sampled token of each decoding one. When the
///      KV blocks these need are more than the cache can give (a small kv_budget_bytes), the
///      most recently admitted request is preempted (vLLM's recompute preemption): its
///      sequence is dropped and it goes back to the front of the waiting line, keeping its
///      tokens, sampler and streamed text; it is admitted again later, its tokens computed
///      again (the prefix cache may bring some back), and goes on where it was. The oldest
///      request is never preempted for a newer one, so every request progresses;
///   3. when nothing was preempted, admits waiting requests (preempted ones first, then the
///      queue) into free slots while their tokens fit the free KV blocks, attaching the
///      cached blocks of their longest cached prefix when prefix_cache is on; a request that
///      could not fit even alone in the KV budget fails at once;
///   4. runs the batch in one context::decode call and samples each request's next token,
///      streaming its text and finishing it on EOG, a stop string, max_tokens or a full
///      context. An engine error fails the requests of that batch only.
class model_worker {
public:
  /// Loads `path`. Errors: errc::invalid_argument naming the file and the engine's reason.
  [[nodiscard]] static result<std::unique_ptr<model_worker>> load(const std::string& path,
                                                                  const engine_options& options);
  ~model_worker();
  model_worker(const model_worker&) = delete;
  model_worker& operator=(const model_worker&) = delete;

  /// Queues a request, or fails it at once (overloaded, stopped, duplicate id).
  void submit(queued_request r);
  /// Cancels a waiting or running request; unknown ids are ignored.
  void cancel(std::string_view id);
  /// Ends the worker: every request still waiting or running fails with errc::stopped.
  void stop();
  [[nodiscard]] const worker_counters& counters() const { return counters_; }

private:
  model_worker(std::string path, std::shared_ptr<const inference::model> m, inference::tokenizer tok,
               std::unique_ptr<inference::context> ctx, const engine_options& options);

  void run();
  void drop_cancelled_and_expired();
  /// One step's batch and the active_ index of each entry.
  struct plan {
    inference::batch batch;
    std::vector<std::size_t> owner;  ///< active_ index of each entry
    std::size_t blocks = 0;          ///< KV blocks the entries need
    /// KV blocks promised to the running requests: this step's decode needs plus what the
    /// prefilling ones need to finish their chunks (admit() leaves these alone)
    std::size_t promised = 0;
    std::size_t budget = 0;          ///< prompt tokens left for more chunks this step
  };
  /// The batch of the running requests, preempting the newest until it fits the KV cache.
  /// Returns false when it preempted (or failed) any request.
  bool plan_running(plan& p);
  /// Admits waiting requests into free slots while their tokens fit; adds their entries.
  void admit(plan& p);
  /// The next request to admit: waiting_.front(), else one popped from the queue (which
  /// ends up in waiting_). nullptr when there is none. Fails requests that cannot run at all.
  active_request* next_waiting();
  /// Drops the sequence of active_[index] and moves it to the front of waiting_.
  void preempt(std::size_t index);
  /// Fails waiting_[index] (it holds no sequence) with `outcome`'s error.
  void end_waiting(std::size_t index, runtime::result<generation_result> outcome);
  /// The "KV budget too small" message for a request needing `positions` cache positions.
  [[nodiscard]] std::string too_big(const active_request& a, std::size_t positions) const;
  /// Shortens a prompt that leaves no room for the reply in the context: its oldest tokens
  /// (after BOS) are dropped, so the latest turns survive and the system prompt may not.
  void keep_tail(std::vector<std::int32_t>& prompt, int max_tokens) const;
  void step();
  void end(std::size_t index, runtime::result<generation_result> outcome);
  void fail(queued_request& r, errc code, std::string message);

  std::string path_;
  std::shared_ptr<const inference::model> model_;
  inference::tokenizer tok_;
  prompt_format format_;
  std::unique_ptr<inference::context> ctx_;  ///< used by the worker thread only
  engine_options options_;
  request_queue queue_;
  std::vector<active_request> active_;  ///< worker thread only; in admission order
  /// Requests taken from queue_ that wait for a sequence and KV room, in arrival order:
  /// preempted ones (pushed to the front by preempt()) and at most one popped request that did
  /// not fit yet. Worker thread only. Bounded: active_.size() + waiting_.size() <=
  /// max_sequences (admit() pops from queue_ only while waiting_ is empty and a slot is free;
  /// preempt() moves a request from active_ to waiting_).
  std::deque<active_request> waiting_;
  std::vector<float> logits_;           ///< worker thread only
  worker_counters counters_;
  std::thread thread_;
};

} // namespace troupe::runtime::detail
