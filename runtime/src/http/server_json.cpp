#include "http/server_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace troupe::runtime::detail {

using json = nlohmann::json;

namespace {

tl::unexpected<error> bad(std::string message) { return fail(errc::invalid_argument, std::move(message)); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// Reads optional field `key` as T when present and not null. False (with `err`) when it has
/// the wrong type.
template <class T>
bool read(const json& body, const char* key, T& out, std::optional<error>& err) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  const bool ok = std::is_same_v<T, bool>                                       ? it->is_boolean()
                  : std::is_integral_v<T>                                       ? it->is_number_integer()
                  : std::is_floating_point_v<T>                                 ? it->is_number()
                                                                                : false;
  if (!ok) {
    err = error{errc::invalid_argument,
                fmt::format("field '{}' must be {}", key,
                            std::is_same_v<T, bool> ? "a boolean" : std::is_integral_v<T> ? "an integer" : "a number")};
    return false;
  }
  out = it->get<T>();
  return true;
}

result<std::string> content_of(const json& m, std::size_t i) {
  auto c = m.find("content");
  if (c == m.end() || c->is_null()) return std::string{};
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) return bad(fmt::format("messages[{}].content must be a string or a list of parts", i));
  std::string text;
  for (const auto& part : *c) {
    if (!part.is_object()) return bad(fmt::format("messages[{}].content: a part is not an object", i));
    auto type = part.find("type");
    auto t = part.find("text");
    if (type == part.end() || *type != "text" || t == part.end() || !t->is_string())
      return bad(fmt::format("messages[{}].content: only text parts are supported", i));
    text += t->get<std::string>();
  }
  return text;
}

json base(const reply_head& head, const char* object) {
  return {{"id", head.id}, {"object", object}, {"created", head.created}, {"model", head.model}};
}

json usage_of(const generation_result& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

} // namespace

result<chat_call> parse_chat_call(std::string_view text, const sampling_params& defaults) {
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded()) return bad("the request body is not valid JSON");
  if (!body.is_object()) return bad("the request body must be a JSON object");
  chat_call call;
  auto& s = call.request.sampling;
  s = defaults;
  auto msgs = body.find("messages");
  if (msgs == body.end() || !msgs->is_array() || msgs->empty()) return bad("field 'messages' must be a non-empty list");
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    if (!m.is_object()) return bad(fmt::format("messages[{}] must be an object", i));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad(fmt::format("messages[{}].role must be a string", i));
    auto content = content_of(m, i);
    if (!content) return tl::make_unexpected(content.error());
    call.request.messages.push_back({role->get<std::string>(), std::move(*content)});
  }
  std::optional<error> err;
  std::int64_t max_tokens = s.max_tokens, seed = -1, n = 1;
  double temperature = s.temperature, top_p = s.top_p, min_p = s.min_p, repeat_penalty = s.repeat_penalty;
  std::int64_t top_k = s.top_k;
  if (!read(body, "stream", call.stream, err) || !read(body, "temperature", temperature, err) ||
      !read(body, "top_p", top_p, err) || !read(body, "top_k", top_k, err) || !read(body, "min_p", min_p, err) ||
      !read(body, "repeat_penalty", repeat_penalty, err) || !read(body, "max_tokens", max_tokens, err) ||
      !read(body, "max_completion_tokens", max_tokens, err) || !read(body, "seed", seed, err) ||
      !read(body, "n", n, err))
    return tl::make_unexpected(*err);
  if (auto so = body.find("stream_options"); so != body.end() && so->is_object())
    if (!read(*so, "include_usage", call.include_usage, err)) return tl::make_unexpected(*err);
  if (n != 1) return bad("field 'n': only 1 choice is supported");
  if (temperature < 0) return bad("field 'temperature' must not be negative");
  if (max_tokens < 1) return bad("field 'max_tokens' must be at least 1");
  if (top_k < 0) return bad("field 'top_k' must not be negative");
  s.temperature = static_cast<float>(temperature);
  s.top_p = static_cast<float>(top_p);
  s.top_k = static_cast<int>(std::min<std::int64_t>(top_k, 1 << 20));
  s.min_p = static_cast<float>(min_p);
  s.repeat_penalty = static_cast<float>(repeat_penalty);
  s.max_tokens = static_cast<int>(std::min<std::int64_t>(max_tokens, 1 << 24));
  if (seed >= 0) s.seed = static_cast<std::uint64_t>(seed);
  if (auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
    s.stop.clear();
    if (stop->is_string()) s.stop.push_back(stop->get<std::string>());
    else if (stop->is_array()) {
      for (const auto& x : *stop) {
        if (!x.is_string()) return bad("field 'stop' must be a string or a list of strings");
        s.stop.push_back(x.get<std::string>());
      }
    } else return bad("field 'stop' must be a string or a list of strings");
  }
  return call;
}

std::string chunk_json(const reply_head& head, std::string_view content, bool role,
                       const std::optional<std::string>& finish_reason, const generation_result* usage) {
  json delta = json::object();
  if (role) delta["role"] = "assistant";
  if (!content.empty() || role) delta["content"] = content;
  json j = base(head, "chat.completion.chunk");
  j["choices"] = json::array({{{"index", 0}, {"delta", std::move(delta)},
                               {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}}});
  if (usage != nullptr) j["usage"] = usage_of(*usage);
  return dump(j);
}

std::string usage_chunk_json(const reply_head& head, const generation_result& r) {
  json j = base(head, "chat.completion.chunk");
  j["choices"] = json::array();
  j["usage"] = usage_of(r);
  return dump(j);
}

std::string completion_json(const reply_head& head, const generation_result& r) {
  json j = base(head, "chat.completion");
  j["choices"] = json::array({{{"index", 0},
                               {"message", {{"role", "assistant"}, {"content", r.text}}},
                               {"finish_reason", r.finish_reason.empty() ? "stop" : r.finish_reason}}});
  j["usage"] = usage_of(r);
  return dump(j);
}

std::string error_json(std::string_view message, std::string_view type, int code) {
  return dump({{"error", {{"message", message}, {"type", type}, {"code", code}}}});
}

std::size_t utf8_complete_prefix(std::string_view text) {
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const std::size_t need = c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back && c < 0xF8 ? n - back : n;
  }
  return n;  // only continuation bytes at the end: invalid anyway, send them
}

std::string models_json(const std::string& model, std::int64_t created) {
  return dump({{"object", "list"},
               {"data", json::array({{{"id", model}, {"object", "model"}, {"created", created}, {"owned_by", "troupe"}}})}});
}

} // namespace troupe::runtime::detail
