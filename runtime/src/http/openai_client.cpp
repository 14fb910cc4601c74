// make_openai_client: a bounded queue of requests served by max_concurrent worker threads,
// each running one HTTP exchange at a time.
#include "troupe/runtime/openai_client.hpp"

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http/chat_exchange.hpp"

namespace troupe::runtime {

namespace {

using detail::exchange_control;

struct job {
  generation_request request;
  piece_callback on_piece;
  done_callback on_done;
  std::shared_ptr<exchange_control> control = std::make_shared<exchange_control>();
};

/// The queue and the running requests, shared by the client and its worker threads (so that a
/// worker outlives the client safely when a callback drops the client's last reference).
class client_core {
public:
  client_core(detail::exchange_settings settings, const openai_options& o)
      : settings_(std::move(settings)), queue_capacity_(o.queue_capacity), retry_after_ms_(o.retry_after_ms) {}

  /// Fails the waiting requests and cancels the running ones (they end with errc::stopped).
  void stop() {
    std::deque<job> orphans;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      orphans.swap(queue_);
      for (auto& [id, control] : running_) control->cancel();
    }
    cv_.notify_all();
    for (auto& j : orphans) j.on_done(fail(errc::stopped, "the HTTP inference client is shutting down"));
  }

  void generate(generation_request request, piece_callback on_piece, done_callback on_done) {
    job j{std::move(request), std::move(on_piece), std::move(on_done)};
    {
      std::unique_lock lock(mutex_);
      std::optional<error> refused;
      if (stopping_) refused = error{errc::stopped, "the HTTP inference client is shutting down"};
      else if (ids_.count(j.request.request_id) != 0)
        refused = error{errc::invalid_argument, fmt::format("request id '{}' is already in use", j.request.request_id)};
      else if (queue_.size() >= queue_capacity_)
        refused = error{errc::overloaded,
                        fmt::format("the queue for {} is full ({} requests waiting); retry in about {} ms",
                                    settings_.url_text, queue_capacity_, retry_after_ms_)};
      if (refused) {
        lock.unlock();
        j.on_done(tl::make_unexpected(std::move(*refused)));
        return;
      }
      ids_.insert(j.request.request_id);
      queue_.push_back(std::move(j));
    }
    cv_.notify_one();
  }

  void cancel(std::string_view request_id) {
    std::optional<job> waiting;
    {
      std::lock_guard lock(mutex_);
      if (auto r = running_.find(request_id); r != running_.end()) {
        r->second->cancel();  // the worker sees the flag and reports errc::cancelled
        return;
      }
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->request.request_id != request_id) continue;
        waiting = std::move(*it);
        queue_.erase(it);
        ids_.erase(ids_.find(request_id));
        break;
      }
    }
    if (waiting)
      waiting->on_done(fail(errc::cancelled, fmt::format("generation {} cancelled", waiting->request.request_id)));
  }

  /// A worker thread's loop: one exchange at a time until stop().
  void run() {
    for (;;) {
      job j;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        j = std::move(queue_.front());
        queue_.pop_front();
        running_.emplace(j.request.request_id, j.control);
      }
      auto outcome = detail::run_chat_exchange(settings_, j.request, j.on_piece, *j.control);
      {
        std::lock_guard lock(mutex_);
        if (stopping_ && !outcome && outcome.error().code == errc::cancelled)
          outcome = fail(errc::stopped, "the HTTP inference client is shutting down");
        running_.erase(j.request.request_id);
        ids_.erase(ids_.find(j.request.request_id));
      }
      j.on_done(std::move(outcome));
    }
  }

private:
  const detail::exchange_settings settings_;
  const std::size_t queue_capacity_;
  const std::size_t retry_after_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  /// Waiting requests. generate() pushes (refusing with errc::overloaded when full), workers
  /// pop, cancel() removes; guarded by mutex_.
  std::deque<job> queue_;
  std::map<std::string, std::shared_ptr<exchange_control>, std::less<>> running_;  ///< guarded by mutex_
  std::set<std::string, std::less<>> ids_;        ///< ids queued or running; guarded by mutex_
  bool stopping_ = false;                       ///< guarded by mutex_
};

class openai_client final : public inference_client {
public:
  openai_client(detail::exchange_settings settings, const openai_options& o)
      : core_(std::make_shared<client_core>(std::move(settings), o)) {
    for (std::size_t i = 0; i < o.max_concurrent; ++i) workers_.emplace_back([core = core_] { core->run(); });
  }

  ~openai_client() override {
    core_->stop();
    for (auto& w : workers_) {
      if (w.get_id() == std::this_thread::get_id()) w.detach();  // destroyed from its own callback
      else w.join();
    }
  }

  void generate(generation_request request, piece_callback on_piece, done_callback on_done) override {
    core_->generate(std::move(request), std::move(on_piece), std::move(on_done));
  }
  void cancel(std::string_view request_id) override { core_->cancel(request_id); }

private:
  std::shared_ptr<client_core> core_;
  std::vector<std::thread> workers_;
};

} // namespace

result<std::shared_ptr<inference_client>> make_openai_client(openai_options o) {
  auto url = detail::parse_http_url(o.base_url);
  if (!url) return tl::make_unexpected(url.error());
  if (o.max_concurrent == 0) return fail(errc::invalid_argument, "openai client: max_concurrent must be at least 1");
  detail::exchange_settings s;
  s.path = detail::chat_completions_path(url->path);
  s.url_text = url->origin() + s.path;
  s.url = std::move(*url);
  if (!o.api_key_env.empty()) {
    const char* key = std::getenv(o.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      return fail(errc::invalid_argument,
                  fmt::format("openai client for {}: environment variable {} (api_key_env) is not set", s.url_text,
                              o.api_key_env));
    s.bearer = key;
  }
  s.model = o.model;
  s.connect_timeout_ms = o.connect_timeout_ms;
  s.read_timeout_ms = o.read_timeout_ms;
  s.llama_extras = o.llama_extras;
  s.retry_after_ms = o.retry_after_ms;
  return std::make_shared<openai_client>(std::move(s), o);
}

} // namespace troupe::runtime
