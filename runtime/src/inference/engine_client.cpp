// make_engine_client: one model_worker per distinct model file; requests are routed to the
// worker of their profile's model.
#include "troupe/runtime/engine_client.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "inference/model_worker.hpp"

namespace troupe::runtime {

namespace {

class cpu_engine_client final : public engine_client {
public:
  explicit cpu_engine_client(engine_options options) : options_(std::move(options)) {}
  ~cpu_engine_client() override { shutdown(); }

  result<void> load() {
    auto add = [this](const std::string& path) -> result<void> {
      if (path.empty() || workers_.count(path) != 0) return {};
      auto w = detail::model_worker::load(path, options_);
      if (!w) return tl::make_unexpected(w.error());
      workers_.emplace(path, std::move(*w));
      return {};
    };
    for (const auto& [profile, path] : options_.profile_models)
      if (auto ok = add(path); !ok) return ok;
    return add(options_.default_model);
  }

  void generate(generation_request request, piece_callback on_piece, done_callback on_done) override {
    detail::queued_request r{std::move(request), std::move(on_piece), std::move(on_done)};
    auto* w = worker_of(r.request.profile);
    if (w == nullptr) {
      auto done = std::move(r.on_done);
      done(fail(errc::not_found, fmt::format("no model for inference profile '{}'", r.request.profile)));
      return;
    }
    w->submit(std::move(r));
  }

  void cancel(std::string_view request_id) override {
    // Ids are unique per client, so at most one worker knows it; the others ignore it.
    for (auto& [path, w] : workers_) w->cancel(request_id);
  }

  void shutdown() override {
    for (auto& [path, w] : workers_) w->stop();
  }

  engine_stats stats() const override {
    engine_stats s;
    for (const auto& [path, w] : workers_) {
      const auto& c = w->counters();
      s.steps += c.steps.load();
      s.max_batch_sequences = std::max(s.max_batch_sequences, c.max_batch_sequences.load());
      s.completed += c.completed.load();
      s.failed += c.failed.load();
      s.prompt_tokens += c.prompt_tokens.load();
      s.prefix_hit_tokens += c.prefix_hit_tokens.load();
      s.prompt_tokens_computed += c.prompt_tokens_computed.load();
      s.kv_evictions += c.kv_evictions.load();
      s.preemptions += c.preemptions.load();
      s.recomputed_tokens += c.recomputed_tokens.load();
    }
    return s;
  }

private:
  detail::model_worker* worker_of(const std::string& profile) {
    auto p = options_.profile_models.find(profile);
    const std::string& path = p != options_.profile_models.end() ? p->second : options_.default_model;
    auto w = workers_.find(path);
    return w == workers_.end() ? nullptr : w->second.get();
  }

  engine_options options_;
  /// By model path; built in load() and not changed afterwards (so reads need no lock).
  std::map<std::string, std::unique_ptr<detail::model_worker>> workers_;
};

} // namespace

result<std::shared_ptr<engine_client>> make_engine_client(engine_options options) {
  auto client = std::make_shared<cpu_engine_client>(std::move(options));
  if (auto ok = client->load(); !ok) return tl::make_unexpected(ok.error());
  return client;
}

} // namespace troupe::runtime
