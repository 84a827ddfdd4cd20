// Anthropic Messages API: request building and response parsing.
#include "workers/providers/anthropic_adapter.h"

#include <algorithm>
#include <cctype>

#include "protocol/anthropic_format.h"

namespace tollgate::workers {
namespace {

using detail::MalformedResponse;
using detail::ProviderErrorBody;
using detail::token_count;
using nlohmann::json;

constexpr std::string_view kAnthropicVersion = "2023-06-01";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

HttpRequest anthropic_post(const ProviderCall& call, std::string_view path,
                          const protocol::JsonValue& body) {
  HttpRequest req;
  req.method = "POST";
  req.url = detail::join_url(call.base_url, path);
  req.headers = {{"x-api-key", call.api_key},
                 {"anthropic-version", std::string(kAnthropicVersion)},
                 {"content-type", "application/json"}};
  if (call.api_key.empty()) req.headers.erase(req.headers.begin());  // a keyless provider: no key header
  req.body = detail::dump_json(body);
  return req;
}

StreamEvent update() {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kUpdate;
  return e;
}

StreamEvent ignored() {
  StreamEvent e;
  e.kind = StreamEvent::Kind::kIgnored;
  return e;
}

// message_start's message.usage and message_delta's usage (cumulative).
void read_anthropic_usage(const json& usage, StreamEvent& e) {
  if (!usage.is_object()) return;
  const auto in = token_count(usage, "input_tokens");
  e.cache_creation_input_tokens = token_count(usage, "cache_creation_input_tokens");
  e.cache_read_input_tokens = token_count(usage, "cache_read_input_tokens");
  if (in || e.cache_creation_input_tokens || e.cache_read_input_tokens) {
    e.input_tokens = in.value_or(0) + e.cache_creation_input_tokens.value_or(0) +
                     e.cache_read_input_tokens.value_or(0);
  }
  e.output_tokens = token_count(usage, "output_tokens");
}

StreamEvent message_start(const json& data) {
  const json& message = detail::need_member(data, "message");
  if (!message.is_object()) throw MalformedResponse("message is not an object");
  StreamEvent e = update();
  e.message_id = detail::maybe_text(message, "id").value_or("");
  e.model = detail::maybe_text(message, "model").value_or("");
  if (auto usage = message.find("usage"); usage != message.end()) read_anthropic_usage(*usage, e);
  return e;
}

StreamEvent block_start(const json& data) {
  const json& block = detail::need_member(data, "content_block");
  const std::string type = block.is_object() ? detail::maybe_text(block, "type").value_or("") : "";
  StreamDelta d;
  d.block = detail::need_index(data, "index");
  if (type == "text") {
    d.type = StreamDelta::Type::kTextStart;
    d.text = detail::maybe_text(block, "text").value_or("");
  } else if (type == "tool_use") {
    d.type = StreamDelta::Type::kToolUseStart;
    d.id = detail::need_text(block, "id");
    d.name = detail::need_text(block, "name");
  } else {
    return ignored();  // thinking, server tools, ...: not part of the neutral reply
  }
  StreamEvent e = update();
  e.deltas.push_back(std::move(d));
  return e;
}

StreamEvent block_delta(const json& data) {
  const json& delta = detail::need_member(data, "delta");
  const std::string type = delta.is_object() ? detail::maybe_text(delta, "type").value_or("") : "";
  StreamDelta d;
  d.block = detail::need_index(data, "index");
  if (type == "text_delta") {
    d.text = detail::need_text(delta, "text");
  } else if (type == "input_json_delta") {
    d.type = StreamDelta::Type::kInputJson;
    d.text = detail::need_text(delta, "partial_json");
  } else {
    return ignored();  // thinking_delta, signature_delta, citations_delta, ...
  }
  StreamEvent e = update();
  e.deltas.push_back(std::move(d));
  return e;
}

StreamEvent message_delta(const json& data) {
  StreamEvent e = update();
  if (auto delta = data.find("delta"); delta != data.end() && delta->is_object()) {
    if (auto stop = detail::maybe_text(*delta, "stop_reason")) {
      e.stop_reason = protocol::anthropic_stop_reason(*stop);
    }
  }
  if (auto usage = data.find("usage"); usage != data.end()) read_anthropic_usage(*usage, e);
  e.final_usage = e.output_tokens.has_value();
  return e;
}

}  // namespace

HttpRequest AnthropicAdapter::build_request(const ProviderCall& call) const {
  protocol::JsonValue body = protocol::anthropic_request(to_chat_parts(call));
  if (call.stream) body = detail::with_fields(body, protocol::JsonValue{{"stream", true}});
  return anthropic_post(call, "/v1/messages", body);
}

StreamEvent AnthropicAdapter::read_stream_event(std::string_view event, const json& data) const {
  const std::string type = event.empty() ? detail::maybe_text(data, "type").value_or("")
                                         : std::string(event);
  if (type == "message_start") return message_start(data);
  if (type == "content_block_start") return block_start(data);
  if (type == "content_block_delta") return block_delta(data);
  if (type == "message_delta") return message_delta(data);
  if (type == "message_stop") {
    StreamEvent done;
    done.kind = StreamEvent::Kind::kDone;
    return done;
  }
  return ignored();  // ping, content_block_stop, and event types added later
}

std::optional<HttpRequest> AnthropicAdapter::build_count_request(const ProviderCall& call) const {
  return anthropic_post(call, "/v1/messages/count_tokens",
                        protocol::anthropic_count_request(to_chat_parts(call)));
}

std::optional<std::string> AnthropicAdapter::unsupported(const ProviderCall& call,
                                                         bool url_images) const {
  return protocol::anthropic_unsupported(call.messages, url_images);
}

std::optional<uint64_t> AnthropicAdapter::parse_count_response(const HttpResponse& response) const {
  if (!response.transport_ok() || response.status != 200) return std::nullopt;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return std::nullopt;
  try {
    return token_count(body, "input_tokens");
  } catch (const MalformedResponse&) {
    return std::nullopt;
  }
}

ProviderResult AnthropicAdapter::parse_success(const protocol::JsonValue& body) const {
  return detail::result_from(protocol::parse_anthropic_response(body));
}

ProviderErrorBody AnthropicAdapter::parse_error_body(std::string_view text) const {
  ProviderErrorBody out;
  const std::optional<json> err = detail::error_object(text);
  if (!err) return out;
  auto str = [&](const char* key) {
    auto it = err->find(key);
    return it != err->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.type = str("type");
  out.message = str("message");
  out.parsed = !out.type.empty() || !out.message.empty();
  return out;
}

bool AnthropicAdapter::out_of_credit(long status, const ProviderErrorBody& error) const {
  std::string msg = lower(error.message);
  bool credit = msg.find("credit balance") != std::string::npos ||
                msg.find("usage limit") != std::string::npos;
  bool billing = msg.find("billing") != std::string::npos || msg.find("credit") != std::string::npos;
  if (status == 400 || status == 402) return credit;
  if (status == 403 || error.type == "permission_error") return billing;
  return false;
}

}  // namespace tollgate::workers
