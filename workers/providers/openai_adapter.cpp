// OpenAI Chat Completions API: request building and response parsing.
#include "workers/providers/openai_adapter.h"

#include "protocol/openai_format.h"

namespace tollgate::workers {

using detail::ProviderErrorBody;
using nlohmann::json;

namespace {

// Message text is block 0; tool call i is block 1 + i.
constexpr uint64_t kFirstToolBlock = 1;

void add_delta(StreamEvent& e, StreamDelta::Type type, uint64_t block, std::string text) {
  StreamDelta d;
  d.type = type;
  d.block = block;
  d.text = std::move(text);
  e.deltas.push_back(std::move(d));
}

// delta.tool_calls[]: the first piece of a call has its id and name, the
// rest pieces of function.arguments (id and name null).
void read_tool_calls(const json& calls, StreamEvent& e) {
  if (!calls.is_array()) throw detail::MalformedResponse("delta.tool_calls is not an array");
  for (size_t i = 0; i < calls.size(); ++i) {
    const json& call = calls[i];
    if (!call.is_object()) throw detail::MalformedResponse("delta.tool_calls[] is not an object");
    const uint64_t index = call.contains("index") ? detail::need_index(call, "index") : i;
    auto fn_it = call.find("function");
    const json* fn = fn_it != call.end() && fn_it->is_object() ? &*fn_it : nullptr;
    const std::string name = fn != nullptr ? detail::maybe_text(*fn, "name").value_or("") : "";
    if (!name.empty()) {
      std::string id = detail::maybe_text(call, "id").value_or("");
      if (id.empty()) id = protocol::openai_synthetic_call_id(e.message_id, index);
      add_delta(e, StreamDelta::Type::kToolUseStart, kFirstToolBlock + index, "");
      e.deltas.back().id = std::move(id);
      e.deltas.back().name = name;
    }
    std::string args = fn != nullptr ? detail::maybe_text(*fn, "arguments").value_or("") : "";
    if (!args.empty()) {
      add_delta(e, StreamDelta::Type::kInputJson, kFirstToolBlock + index, std::move(args));
    }
  }
}

void read_choice(const json& choice, StreamEvent& e) {
  if (!choice.is_object()) throw detail::MalformedResponse("choices[0] is not an object");
  if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
    std::string content = detail::maybe_text(*delta, "content").value_or("");
    if (!content.empty()) add_delta(e, StreamDelta::Type::kText, 0, std::move(content));
    std::string refusal = detail::maybe_text(*delta, "refusal").value_or("");
    if (!refusal.empty()) {
      e.refusal = true;
      add_delta(e, StreamDelta::Type::kText, 0, std::move(refusal));
    }
    if (auto calls = delta->find("tool_calls"); calls != delta->end() && !calls->is_null()) {
      read_tool_calls(*calls, e);
    }
  }
  if (auto finish = detail::maybe_text(choice, "finish_reason")) {
    e.stop_reason = protocol::openai_finish_reason(*finish);
  }
}

// The usage chunk (stream_options.include_usage): both counts, or nothing.
void read_openai_usage(const json& usage, StreamEvent& e) {
  const auto in = detail::token_count(usage, "prompt_tokens");
  const auto out = detail::token_count(usage, "completion_tokens");
  if (!in || !out) return;
  e.input_tokens = in;
  e.output_tokens = out;
  e.final_usage = true;
  auto details = usage.find("prompt_tokens_details");
  if (details != usage.end() && details->is_object()) {
    e.cache_read_input_tokens = detail::token_count(*details, "cached_tokens");
  }
}

}  // namespace

StreamEvent OpenAiAdapter::read_stream_event(std::string_view, const json& data) const {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kUpdate;
  e.message_id = detail::maybe_text(data, "id").value_or("");
  e.model = detail::maybe_text(data, "model").value_or("");
  if (auto choices = data.find("choices"); choices != data.end() && !choices->is_null()) {
    if (!choices->is_array()) throw detail::MalformedResponse("choices is not an array");
    if (!choices->empty()) read_choice((*choices)[0], e);
  }
  if (auto usage = data.find("usage"); usage != data.end() && usage->is_object()) {
    read_openai_usage(*usage, e);
  }
  return e;
}

HttpRequest OpenAiAdapter::build_request(const ProviderCall& call) const {
  HttpRequest req;
  req.method = "POST";
  req.url = detail::join_url(call.base_url, "/chat/completions");
  req.headers = {{"Authorization", "Bearer " + call.api_key},
                 {"content-type", "application/json"}};
  if (call.api_key.empty()) req.headers.erase(req.headers.begin());  // a keyless provider: no key header
  protocol::JsonValue body = protocol::openai_request(to_chat_parts(call));
  if (call.stream) {
    protocol::JsonValue extra = protocol::JsonValue::object();
    extra["stream"] = true;
    extra["stream_options"] = {{"include_usage", true}};
    body = detail::with_fields(body, extra);
  }
  req.body = detail::dump_json(body);
  return req;
}

std::optional<std::string> OpenAiAdapter::unsupported(const ProviderCall& call,
                                                      bool url_images) const {
  return protocol::openai_unsupported(call.messages, url_images);
}

ProviderResult OpenAiAdapter::parse_success(const protocol::JsonValue& body) const {
  return detail::result_from(protocol::parse_openai_response(body));
}

ProviderErrorBody OpenAiAdapter::parse_error_body(std::string_view text) const {
  ProviderErrorBody out;
  const std::optional<json> err = detail::error_object(text);
  if (!err) return out;
  auto str = [&](const char* key) {
    auto it = err->find(key);
    if (it == err->end()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    return std::string();
  };
  out.type = str("type");
  out.code = str("code");
  out.message = str("message");
  out.parsed = true;
  return out;
}

bool OpenAiAdapter::out_of_credit(long status, const ProviderErrorBody& error) const {
  auto is = [&](std::string_view what) { return error.code == what || error.type == what; };
  if (status == 429 || status == 402 || status == 403) {
    return is("insufficient_quota") || is("billing_hard_limit_reached");
  }
  return false;
}

}  // namespace tollgate::workers
