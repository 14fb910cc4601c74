// TEST DOUBLES (not part of the product): an inference client returning canned replies and a
// human input source reading from a scripted list.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <troupe/agents/input_source.hpp>
#include <troupe/runtime/inference_client.hpp>

namespace troupe::test {

/// Answers each generation with the next canned reply (streamed word by word, synchronously
/// inside `generate`), or with an error when the script is empty. With `hold()`, requests are
/// parked until `release_all()` (to test deadlines and cancellation).
class scripted_inference final : public runtime::inference_client {
public:
  explicit scripted_inference(std::vector<std::string> replies = {});
  void generate(runtime::generation_request request, runtime::piece_callback on_piece,
                runtime::done_callback on_done) override;
  void cancel(std::string_view request_id) override;

  /// Parks further requests instead of answering.
  void hold();
  /// Answers every parked request (in order).
  void release_all();
  /// Every request seen, in order.
  std::vector<runtime::generation_request> requests() const;
  /// Ids passed to `cancel`.
  std::vector<std::string> cancelled() const;

private:
  struct parked {
    runtime::generation_request request;
    runtime::piece_callback on_piece;
    runtime::done_callback on_done;
  };
  void answer(parked p);
  mutable std::mutex mutex_;
  std::deque<std::string> replies_;
  std::vector<runtime::generation_request> seen_;
  std::vector<std::string> cancelled_;
  std::vector<parked> parked_;
  bool hold_ = false;
};

/// A human who answers from a list, then reports end of input.
class scripted_input final : public agents::input_source {
public:
  explicit scripted_input(std::vector<std::string> lines);
  runtime::result<std::string> read_line(std::string_view agent, std::string_view prompt) override;
  void show(std::string_view agent, const runtime::envelope& message) override;
  /// Prompts seen by read_line, in order.
  std::vector<std::string> prompts() const;
  /// Contents shown, in order.
  std::vector<std::string> shown() const;

private:
  mutable std::mutex mutex_;
  std::deque<std::string> lines_;
  std::vector<std::string> prompts_;
  std::vector<std::string> shown_;
};

} // namespace troupe::test
