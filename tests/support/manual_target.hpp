// TEST DOUBLES (not part of the product): inference targets driven by hand from a test, and a
// factory that hands them to an inference pool while remembering each one.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <troupe/runtime/pool.hpp>

namespace troupe::test {

/// An inference client that only records: each generate() is parked until the test answers
/// it with piece() / finish() / fail(), or never (a stalled target).
class manual_target final : public runtime::inference_client {
public:
  struct call {
    runtime::generation_request request;
    runtime::piece_callback on_piece;
    runtime::done_callback on_done;
    bool answered = false;
  };

  explicit manual_target(std::string name) : name_(std::move(name)) {}

  void generate(runtime::generation_request request, runtime::piece_callback on_piece,
                runtime::done_callback on_done) override {
    std::lock_guard<std::mutex> guard{mutex_};
    calls_.push_back({std::move(request), std::move(on_piece), std::move(on_done)});
  }
  void cancel(std::string_view request_id) override {
    std::lock_guard<std::mutex> guard{mutex_};
    cancelled_.emplace_back(request_id);
  }

  /// Streams `text` as a piece of call `i`.
  void piece(std::size_t i, const std::string& text) { get(i).on_piece(text); }
  /// Ends call `i` with `text` as the whole result.
  void finish(std::size_t i, const std::string& text) {
    auto& c = get(i);
    c.answered = true;
    c.on_done(runtime::generation_result{c.request.request_id, text, 1, 1, "stop"});
  }
  /// Ends call `i` with an error.
  void fail(std::size_t i, runtime::errc code) {
    auto& c = get(i);
    c.answered = true;
    c.on_done(runtime::fail(code, "manual_target failure"));
  }
  /// Calls not answered yet, by index.
  std::vector<std::size_t> open() {
    std::lock_guard<std::mutex> guard{mutex_};
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < calls_.size(); ++i)
      if (!calls_[i].answered) v.push_back(i);
    return v;
  }
  std::size_t calls() {
    std::lock_guard<std::mutex> guard{mutex_};
    return calls_.size();
  }
  std::string request_id(std::size_t i) { return get(i).request.request_id; }
  std::vector<std::string> cancelled() {
    std::lock_guard<std::mutex> guard{mutex_};
    return cancelled_;
  }
  const std::string& name() const { return name_; }

private:
  call& get(std::size_t i) {
    std::lock_guard<std::mutex> guard{mutex_};
    return calls_.at(i);
  }
  std::string name_;
  std::mutex mutex_;
  std::deque<call> calls_;  // a deque: references stay valid while calls are added
  std::vector<std::string> cancelled_;
};

/// A target factory making manual_targets; `made` lists them in creation order.
struct manual_farm {
  std::vector<std::shared_ptr<manual_target>> made;
  std::mutex mutex;

  runtime::target_factory factory() {
    return [this](const runtime::target_options& t) -> runtime::result<std::shared_ptr<runtime::inference_client>> {
      auto m = std::make_shared<manual_target>(t.name);
      std::lock_guard<std::mutex> guard{mutex};
      made.push_back(m);
      return std::shared_ptr<runtime::inference_client>(m);
    };
  }
  std::shared_ptr<manual_target> at(std::size_t i) {
    std::lock_guard<std::mutex> guard{mutex};
    return made.at(i);
  }
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mutex};
    return made.size();
  }
};

/// Pool options for tests: deterministic, manual targets (kind "manual"), no ticks unless asked.
inline runtime::pool_options manual_pool_options(manual_farm& farm, std::vector<double> weights,
                                                 std::size_t capacity = 1000) {
  runtime::pool_options o;
  o.deterministic = true;
  o.factories["manual"] = farm.factory();
  o.elastic.tick_ms = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    runtime::target_options t;
    t.kind = "manual";
    t.name = "t" + std::to_string(i);
    t.weight = weights[i];
    t.capacity = capacity;
    o.targets.push_back(t);
  }
  return o;
}

} // namespace troupe::test
