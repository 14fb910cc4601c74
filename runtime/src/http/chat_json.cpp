#include "http/chat_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace troupe::runtime::detail {

using json = nlohmann::json;

namespace {

tl::unexpected<error> bad(std::string message) { return fail(errc::protocol, std::move(message)); }

/// Reads usage.prompt_tokens / completion_tokens when present and numbers.
void read_usage(const json& j, generation_result& out) {
  auto u = j.find("usage");
  if (u == j.end() || !u->is_object()) return;
  if (auto p = u->find("prompt_tokens"); p != u->end() && p->is_number_unsigned()) out.prompt_tokens = p->get<std::size_t>();
  if (auto c = u->find("completion_tokens"); c != u->end() && c->is_number_unsigned())
    out.completion_tokens = c->get<std::size_t>();
}

/// The first choice of a chunk or completion (nullptr when `choices` is empty, as in the
/// usage-only chunk OpenAI sends last).
result<const json*> first_choice(const json& j, std::string_view what) {
  auto c = j.find("choices");
  if (c == j.end()) return bad(fmt::format("{} has no \"choices\": {}", what, shorten(j.dump())));
  if (!c->is_array()) return bad(fmt::format("{}: \"choices\" is not an array", what));
  if (c->empty()) return nullptr;
  if (!c->front().is_object()) return bad(fmt::format("{}: choices[0] is not an object", what));
  return &c->front();
}

result<void> read_finish(const json& choice, generation_result& out, std::string_view what) {
  auto f = choice.find("finish_reason");
  if (f == choice.end() || f->is_null()) return {};
  if (!f->is_string()) return bad(fmt::format("{}: finish_reason is not a string", what));
  out.finish_reason = f->get<std::string>();
  return {};
}

result<json> parse_object(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad(fmt::format("{} is not valid JSON: {}", what, shorten(text)));
  if (!j.is_object()) return bad(fmt::format("{} is not a JSON object: {}", what, shorten(text)));
  return j;
}

} // namespace

std::string shorten(std::string_view text, std::size_t n) {
  if (text.size() <= n) return std::string{text};
  return std::string{text.substr(0, n)} + "...";
}

std::string chat_request_body(const generation_request& request, const std::string& model, bool stream,
                              bool llama_extras) {
  json body = json::object();
  if (!model.empty()) body["model"] = model;
  json messages = json::array();
  for (const auto& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  body["messages"] = std::move(messages);
  body["stream"] = stream;
  if (stream) body["stream_options"] = {{"include_usage", true}};
  const auto& s = request.sampling;
  body["temperature"] = s.temperature;
  body["top_p"] = s.top_p;
  body["max_tokens"] = s.max_tokens;
  if (s.seed) body["seed"] = *s.seed;
  if (!s.stop.empty()) body["stop"] = s.stop;
  if (llama_extras) {
    body["top_k"] = s.top_k;
    body["min_p"] = s.min_p;
    body["repeat_penalty"] = s.repeat_penalty;
  }
  // Invalid UTF-8 in a message must not throw out of the library: replace it.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<void> chat_stream_decoder::event(std::string_view type, std::string_view data,
                                        const piece_callback& on_piece) {
  const auto what = fmt::format("stream event {}", ++events_);
  if (type == "error") return tl::make_unexpected(server_error(data));
  if (done_) return bad(fmt::format("{} arrived after data: [DONE]", what));
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  auto j = parse_object(data, what);
  if (!j) return tl::make_unexpected(j.error());
  if (j->contains("error")) return tl::make_unexpected(server_error(data));
  read_usage(*j, result_);
  auto choice = first_choice(*j, what);
  if (!choice) return tl::make_unexpected(choice.error());
  if (*choice == nullptr) return {};
  const json& c = **choice;
  if (auto d = c.find("delta"); d != c.end() && !d->is_null()) {
    if (!d->is_object()) return bad(fmt::format("{}: delta is not an object", what));
    if (auto t = d->find("content"); t != d->end() && !t->is_null()) {
      if (!t->is_string()) return bad(fmt::format("{}: delta.content is not a string", what));
      const auto& piece = t->get_ref<const std::string&>();
      if (!piece.empty()) {
        result_.text += piece;
        if (on_piece) on_piece(piece);
      }
    }
  }
  return read_finish(c, result_, what);
}

result<generation_result> parse_chat_completion(std::string_view body, const piece_callback& on_piece) {
  constexpr std::string_view what = "the chat completion";
  auto j = parse_object(body, what);
  if (!j) return tl::make_unexpected(j.error());
  if (j->contains("error")) return tl::make_unexpected(server_error(body));
  generation_result out;
  read_usage(*j, out);
  auto choice = first_choice(*j, what);
  if (!choice) return tl::make_unexpected(choice.error());
  if (*choice == nullptr) return bad("the chat completion has no choices");
  const json& c = **choice;
  auto m = c.find("message");
  if (m == c.end() || !m->is_object()) return bad("the chat completion's choices[0] has no message object");
  if (auto t = m->find("content"); t != m->end() && !t->is_null()) {
    if (!t->is_string()) return bad("the chat completion's message.content is not a string");
    out.text = t->get<std::string>();
  }
  if (auto ok = read_finish(c, out, what); !ok) return tl::make_unexpected(ok.error());
  if (on_piece && !out.text.empty()) on_piece(out.text);
  return out;
}

error server_error(std::string_view json_text) {
  error e{errc::unavailable, error_message_of(json_text)};
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) return e;
  const json* obj = &j;
  if (auto inner = j.find("error"); inner != j.end() && inner->is_object()) obj = &*inner;
  if (auto c = obj->find("code"); c != obj->end() && c->is_number_integer()) {
    const auto code = c->get<std::int64_t>();
    if (code == 429 || code == 503) e.code = errc::overloaded;
  }
  if (auto t = obj->find("type"); t != obj->end() && t->is_string()) {
    const auto& type = t->get_ref<const std::string&>();
    if (type.find("overload") != std::string::npos || type.find("rate_limit") != std::string::npos ||
        type == "unavailable_error")
      e.code = errc::overloaded;
  }
  return e;
}

std::string error_message_of(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    const json* obj = &j;
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object()) obj = &*e;
    }
    for (const char* key : {"message", "detail"})
      if (auto m = obj->find(key); m != obj->end() && m->is_string()) return m->get<std::string>();
  }
  return shorten(body, 500);
}

} // namespace troupe::runtime::detail
