#include "support/scripted_inference.hpp"

#include <fmt/format.h>

namespace troupe::test {

using namespace troupe::runtime;

scripted_inference::scripted_inference(std::vector<std::string> replies)
    : replies_(replies.begin(), replies.end()) {}

void scripted_inference::generate(generation_request request, piece_callback on_piece, done_callback on_done) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    seen_.push_back(request);
    if (hold_) {
      parked_.push_back(parked{std::move(request), std::move(on_piece), std::move(on_done)});
      return;
    }
  }
  answer(parked{std::move(request), std::move(on_piece), std::move(on_done)});
}

void scripted_inference::answer(parked p) {
  std::string reply;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (replies_.empty()) {
      p.on_done(fail(errc::agent_failed, "scripted_inference: script exhausted"));
      return;
    }
    reply = std::move(replies_.front());
    replies_.pop_front();
  }
  std::size_t pieces = 0;
  for (std::size_t start = 0; start < reply.size();) {
    auto end = reply.find(' ', start + 1);
    if (end == std::string::npos)
      end = reply.size();
    if (p.on_piece)
      p.on_piece(std::string_view{reply}.substr(start, end - start));
    ++pieces;
    start = end;
  }
  generation_result r;
  r.request_id = p.request.request_id;
  r.text = reply;
  r.completion_tokens = pieces;
  r.finish_reason = "stop";
  p.on_done(std::move(r));
}

void scripted_inference::cancel(std::string_view request_id) {
  std::lock_guard<std::mutex> guard{mutex_};
  cancelled_.emplace_back(request_id);
}

void scripted_inference::hold() {
  std::lock_guard<std::mutex> guard{mutex_};
  hold_ = true;
}

void scripted_inference::release_all() {
  std::vector<parked> ready;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    hold_ = false;
    ready.swap(parked_);
  }
  for (auto& p : ready)
    answer(std::move(p));
}

std::vector<generation_request> scripted_inference::requests() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return seen_;
}

std::vector<std::string> scripted_inference::cancelled() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return cancelled_;
}

scripted_input::scripted_input(std::vector<std::string> lines) : lines_(lines.begin(), lines.end()) {}

result<std::string> scripted_input::read_line(std::string_view agent, std::string_view prompt) {
  std::lock_guard<std::mutex> guard{mutex_};
  prompts_.emplace_back(prompt);
  if (lines_.empty())
    return fail(errc::io, fmt::format("scripted_input: no more lines for '{}'", agent));
  auto line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

void scripted_input::show(std::string_view, const envelope& message) {
  std::lock_guard<std::mutex> guard{mutex_};
  shown_.push_back(message.content);
}

std::vector<std::string> scripted_input::prompts() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return prompts_;
}

std::vector<std::string> scripted_input::shown() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return shown_;
}

} // namespace troupe::test
