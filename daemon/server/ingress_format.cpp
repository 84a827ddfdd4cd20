#include "daemon/server/ingress_format.h"

#include <set>

#include "protocol/anthropic_format.h"
#include "protocol/codec.h"
#include "protocol/openai_format.h"

namespace tollgate::ingress {

using protocol::Error;
using protocol::ErrorCode;
using protocol::JsonValue;

namespace {

constexpr std::string_view kAuto = "auto";

// The body as JSON, refusing nesting past `max_depth` while parsing (the
// readers recurse per level) and a key given twice (nlohmann would keep
// the last one silently; the msgpack decoder refuses it).
protocol::Result<JsonValue> parse_json(std::string_view body, size_t max_depth) {
  bool too_deep = false;
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> duplicate;
  const auto guard = [&](int depth, JsonValue::parse_event_t event, JsonValue& parsed) {
    if (static_cast<size_t>(depth) > max_depth) too_deep = true;
    if (event == JsonValue::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == JsonValue::parse_event_t::object_end && !keys.empty()) {
      keys.pop_back();
    } else if (event == JsonValue::parse_event_t::key && !keys.empty() && parsed.is_string() &&
               !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
      duplicate = parsed.get<std::string>();
    }
    return !too_deep;
  };
  JsonValue j = JsonValue::parse(body, guard, /*allow_exceptions=*/false);
  if (too_deep) return protocol::too_deep("request body", max_depth);
  if (duplicate) return Error::bad_request("request body: key " + *duplicate + " given more than once");
  if (j.is_discarded() || !j.is_object()) return Error::bad_request("request body: must be a JSON object");
  return j;
}

bool flag(const JsonValue& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_boolean() && it->get<bool>();
}

const ProviderConfig* provider_named(const Config& config, std::string_view name) {
  for (const auto& p : config.providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

JsonValue openai_error(const Error& e, std::string_view type) {
  JsonValue inner = JsonValue::object();
  inner["message"] = e.message;
  inner["type"] = type;
  inner["param"] = nullptr;
  inner["code"] = e.code == ErrorCode::kBudgetExhausted ? JsonValue("insufficient_quota")
                                                         : JsonValue(protocol::code_name(e.code));
  JsonValue j = JsonValue::object();
  j["error"] = std::move(inner);
  return j;
}

JsonValue anthropic_error(const Error& e, std::string_view type) {
  JsonValue inner = JsonValue::object();
  inner["type"] = type;
  inner["message"] = e.message;
  JsonValue j = JsonValue::object();
  j["type"] = "error";
  j["error"] = std::move(inner);
  return j;
}

int status_for(Dialect dialect, ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kUnsupportedVersion: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kUnknownAgent: return 403;
    case ErrorCode::kUnknownOp: return 404;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kBudgetExhausted:
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kCancelled: return 499;
    case ErrorCode::kProviderError: return 502;
    case ErrorCode::kNotConfigured:
    case ErrorCode::kEmergencyShutdown:
    case ErrorCode::kLedgerUnavailable: return 503;
    case ErrorCode::kOverloaded: return dialect == Dialect::kAnthropic ? 529 : 503;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

}  // namespace

protocol::Result<ClientRequest> read_request(Dialect dialect, std::string_view body, size_t max_depth) {
  auto json = parse_json(body, max_depth);
  if (!json) return json.error();
  auto parts = dialect == Dialect::kOpenAI ? protocol::parse_openai_request(*json)
                                           : protocol::parse_anthropic_request(*json);
  if (!parts) return parts.error();
  ClientRequest r;
  r.parts = std::move(parts).value();
  r.model = r.parts.model.empty() ? std::string(kAuto) : r.parts.model;
  r.stream = flag(*json, "stream");
  if (auto it = json->find("stream_options"); it != json->end() && it->is_object()) {
    r.include_usage = flag(*it, "include_usage");
  }
  return r;
}

protocol::Result<ModelRoute> route_model(const Config& config, std::string_view model) {
  if (model.empty() || model == kAuto) return ModelRoute{};
  if (const size_t slash = model.find('/'); slash != std::string_view::npos) {
    const std::string_view name = model.substr(0, slash);
    if (const auto* p = provider_named(config, name)) {
      ModelRoute route{p->name, std::string(model.substr(slash + 1))};
      if (route.model->empty() || *route.model == kAuto) route.model.reset();
      return route;
    }
    // Some model names contain a slash themselves (meta-llama/...): a
    // provider that lists the whole name takes it below.
  }
  for (const auto& p : config.providers) {
    for (const auto& m : p.models) {
      if (m == model) return ModelRoute{p.name, std::string(model)};
    }
  }
  for (const auto& p : config.providers) {
    if (p.model == model) return ModelRoute{p.name, std::string(model)};
  }
  if (model.find('/') != std::string_view::npos) {
    return Error::bad_request("model: '" + std::string(model) +
                              "' names no configured provider (use auto, <provider>/<model> or a "
                              "model a provider lists; GET /v1/models lists them)");
  }
  return ModelRoute{std::nullopt, std::string(model)};
}

protocol::CallRequest make_call(ClientRequest request, const std::string& ai_name,
                                const ModelRoute& route, std::optional<std::string> idempotency_key) {
  protocol::ChatParts& p = request.parts;
  protocol::CallRequest call;
  call.ai_name = ai_name;
  call.messages = std::move(p.messages);
  call.system = std::move(p.system);
  call.system_blocks = std::move(p.system_blocks);
  call.max_tokens = p.max_tokens;
  call.temperature = p.temperature;
  call.tools = std::move(p.tools);
  call.tool_choice = std::move(p.tool_choice);
  call.stop_sequences = std::move(p.stop_sequences);
  call.top_p = p.top_p;
  call.preferred_provider = route.provider;
  call.model = route.model;
  call.idempotency_key = std::move(idempotency_key);
  call.stream = request.stream;
  return call;
}

std::string response_body(Dialect dialect, const protocol::CallReply& reply, const std::string& id,
                          int64_t created) {
  protocol::ChatReply chat;
  chat.id = id;
  chat.model = reply.model;
  chat.content = reply.content;
  if (chat.content.empty() && !reply.text.empty()) {
    chat.content.push_back(protocol::ContentBlock::make_text(reply.text));
  }
  chat.stop_reason = reply.stop_reason.value_or(protocol::StopReason::kEndTurn);
  chat.usage = reply.usage;
  return (dialect == Dialect::kOpenAI ? protocol::openai_response(chat, created)
                                      : protocol::anthropic_response(chat))
      .dump(-1, ' ', false, JsonValue::error_handler_t::replace);
}

std::string error_type(Dialect dialect, ErrorCode code) {
  const bool openai = dialect == Dialect::kOpenAI;
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kUnsupportedVersion: return "invalid_request_error";
    case ErrorCode::kUnauthorized: return openai ? "invalid_request_error" : "authentication_error";
    case ErrorCode::kUnknownAgent: return openai ? "invalid_request_error" : "permission_error";
    case ErrorCode::kUnknownOp: return openai ? "invalid_request_error" : "not_found_error";
    case ErrorCode::kTooLarge: return openai ? "invalid_request_error" : "request_too_large";
    case ErrorCode::kBudgetExhausted: return openai ? "insufficient_quota" : "rate_limit_error";
    case ErrorCode::kRateLimited: return openai ? "requests" : "rate_limit_error";
    case ErrorCode::kOverloaded: return openai ? "server_error" : "overloaded_error";
    case ErrorCode::kTimeout: return openai ? "timeout" : "timeout_error";
    default: return openai ? "server_error" : "api_error";
  }
}

ErrorAnswer error_answer(Dialect dialect, const Error& error) {
  ErrorAnswer a;
  a.status = status_for(dialect, error.code);
  const std::string type = error_type(dialect, error.code);
  a.body = (dialect == Dialect::kOpenAI ? openai_error(error, type) : anthropic_error(error, type))
               .dump(-1, ' ', false, JsonValue::error_handler_t::replace);
  a.retry_after_ms = error.retry_after_ms;
  a.should_retry = error.code == ErrorCode::kRateLimited || error.code == ErrorCode::kOverloaded ||
                   error.code == ErrorCode::kProviderError || error.code == ErrorCode::kTimeout ||
                   error.code == ErrorCode::kInternal ||
                   error.code == ErrorCode::kLedgerUnavailable;
  return a;
}

std::string models_body(Dialect dialect, const Config& config) {
  std::vector<std::pair<std::string, std::string>> models{{std::string(kAuto), "tollgate"}};
  for (const auto& p : config.providers) {
    if (!p.configured()) continue;
    std::set<std::string> names(p.models.begin(), p.models.end());
    if (!p.model.empty()) names.insert(p.model);
    for (const auto& m : names) models.emplace_back(p.name + "/" + m, p.name);
  }
  JsonValue data = JsonValue::array();
  for (const auto& [id, owner] : models) {
    JsonValue m = JsonValue::object();
    if (dialect == Dialect::kOpenAI) {
      m["id"] = id;
      m["object"] = "model";
      m["created"] = 0;
      m["owned_by"] = owner;
    } else {
      m["type"] = "model";
      m["id"] = id;
      m["display_name"] = id;
      m["created_at"] = "1970-01-01T00:00:00Z";
    }
    data.push_back(std::move(m));
  }
  JsonValue j = JsonValue::object();
  if (dialect == Dialect::kOpenAI) {
    j["object"] = "list";
    j["data"] = std::move(data);
  } else {
    j["first_id"] = data.front()["id"];
    j["last_id"] = data.back()["id"];
    j["data"] = std::move(data);
    j["has_more"] = false;
  }
  return j.dump();
}

}  // namespace tollgate::ingress
