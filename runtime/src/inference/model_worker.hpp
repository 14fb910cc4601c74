// One loaded model and the worker thread that runs it: continuous batching over a fixed number
// of sequence slots of one engine context.
#pragma once

#include <atomic>
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
};

/// Runs one model. Callers hand requests over through submit() and cancel(); the worker
/// thread (started by the constructor, joined by stop()) does everything else. Each step of
/// its loop:
///   1. drops cancelled and expired requests (their sequence slots free at once),
///   2. admits waiting requests into free slots (tokenizing their prompts and attaching the
///      cached KV blocks of their longest cached prefix, when prefix_cache is on),
///   3. builds one batch: a prompt chunk of each prefilling request (prefill_chunk_tokens in
///      all, oldest request first) and the last sampled token of each decoding one,
///   4. runs it in one context::decode call and samples each request's next token,
///      streaming its text and finishing it on EOG, a stop string, max_tokens or a full
///      context.
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
  void admit();
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
  std::vector<active_request> active_;  ///< worker thread only; at most max_sequences
  std::vector<float> logits_;           ///< worker thread only
  worker_counters counters_;
  std::thread thread_;
};

} // namespace troupe::runtime::detail
