// What every adapter shares: transport failures, the JSON adapters'
// response framing (failure classification, one-line redacted messages),
// and which failures the provider may have served.
#include "workers/providers/provider_adapter.h"

#include <cctype>

#include "workers/providers/provider_formats.h"

namespace tollgate::workers {
namespace {

using nlohmann::json;

constexpr size_t kMaxMessageBytes = 300;

// Replaces every occurrence of the key, and anything shaped like a secret
// key ("sk-" followed by 8+ key characters), with a marker.
void redact(std::string& s, std::string_view api_key) {
  if (api_key.size() >= 4) {
    for (size_t pos = s.find(api_key); pos != std::string::npos; pos = s.find(api_key, pos)) {
      s.replace(pos, api_key.size(), "[redacted]");
    }
  }
  auto key_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '*';
  };
  for (size_t pos = s.find("sk-"); pos != std::string::npos; pos = s.find("sk-", pos + 1)) {
    size_t end = pos + 3;
    while (end < s.size() && key_char(s[end])) ++end;
    if (end - pos >= 11) s.replace(pos, end - pos, "sk-[redacted]");
  }
}

// One line: control characters become spaces; long text is cut on a UTF-8
// character boundary.
std::string one_line(std::string s, std::string_view api_key) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  redact(s, api_key);
  if (s.size() > kMaxMessageBytes) {
    size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
    s += "...";
  }
  return s;
}

ProviderResult failed(FailureKind kind, long status, bool retryable, std::string message) {
  ProviderResult r;
  r.status = ProviderResult::Status::kFailed;
  r.failure.kind = kind;
  r.failure.http_status = status;
  r.failure.retryable = retryable;
  r.failure.message = std::move(message);
  return r;
}

// " <code or type>: <message>" of an error body, or ": <the body>" when it
// is not the provider's error shape.
std::string error_detail(const detail::ProviderErrorBody& error, std::string_view body) {
  std::string text;
  if (error.parsed) {
    std::string label = !error.code.empty() ? error.code : error.type;
    if (!label.empty()) text += " " + label;
    if (!error.message.empty()) text += ": " + error.message;
  } else if (!body.empty()) {
    text += ": " + std::string(body.substr(0, kMaxMessageBytes));
  }
  return text;
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
         status == 529;
}

}  // namespace

std::string_view kind_name(FailureKind kind) {
  switch (kind) {
    case FailureKind::kRateLimited: return "rate_limited";
    case FailureKind::kOverloaded: return "overloaded";
    case FailureKind::kServer: return "server";
    case FailureKind::kBadRequest: return "bad_request";
    case FailureKind::kAuth: return "auth";
    case FailureKind::kOutOfCredit: return "out_of_credit";
    case FailureKind::kTransport: return "transport";
    case FailureKind::kTimeout: return "timeout";
    case FailureKind::kInvalidResponse: return "invalid_response";
  }
  return "invalid_response";
}

namespace detail {

std::optional<uint64_t> token_count(const json& usage, const char* key) {
  auto it = usage.find(key);
  if (it == usage.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_unsigned()) {
    throw MalformedResponse(std::string("usage.") + key + " is not a count");
  }
  const auto n = it->get<uint64_t>();
  if (n > kMaxReportedTokens) {
    throw MalformedResponse(std::string("usage.") + key + " is implausibly large: " + std::to_string(n));
  }
  return n;
}

std::optional<json> error_object(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto err = j.find("error");
  if (err == j.end() || !err->is_object()) return std::nullopt;
  return *err;  // a copy: error bodies are small, and g++ sees a null in the move
}

std::string join_url(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + std::string(path);
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string dump_json(const protocol::JsonValue& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, protocol::JsonValue::error_handler_t::replace);
}

ProviderResult result_from(protocol::Result<protocol::ChatReply> parsed) {
  if (!parsed) throw MalformedResponse(parsed.error().message);
  protocol::ChatReply& reply = parsed.value();
  ProviderResult result;
  result.reply.text = protocol::joined_text(reply.content);
  result.reply.model = std::move(reply.model);
  result.reply.content = std::move(reply.content);
  result.reply.stop_reason = reply.stop_reason;
  if (!reply.usage) {
    result.status = ProviderResult::Status::kUsageMissing;
    return result;
  }
  result.reply.input_tokens = reply.usage->input_tokens;
  result.reply.output_tokens = reply.usage->output_tokens;
  result.reply.cache_creation_input_tokens = reply.usage->cache_creation_input_tokens;
  result.reply.cache_read_input_tokens = reply.usage->cache_read_input_tokens;
  result.status = ProviderResult::Status::kOk;
  return result;
}

const json& need_member(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw MalformedResponse(std::string(key) + " is missing");
  return *it;
}

std::string need_text(const json& j, const char* key) {
  const json& v = need_member(j, key);
  if (!v.is_string()) throw MalformedResponse(std::string(key) + " is not a string");
  return v.get<std::string>();
}

std::optional<std::string> maybe_text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw MalformedResponse(std::string(key) + " is not a string");
  return it->get<std::string>();
}

uint64_t need_index(const json& j, const char* key) {
  const json& v = need_member(j, key);
  if (!v.is_number_unsigned() || v.get<uint64_t>() >= kMaxStreamIndex) {
    throw MalformedResponse(std::string(key) + " is not a block index");
  }
  return v.get<uint64_t>();
}

protocol::JsonValue with_fields(const protocol::JsonValue& body, const protocol::JsonValue& extra) {
  protocol::JsonValue out = protocol::JsonValue::object();
  auto e = extra.begin();
  for (auto it = body.begin(); it != body.end(); ++it) {
    for (; e != extra.end() && e.key() < it.key(); ++e) out[e.key()] = e.value();
    out[it.key()] = it.value();
  }
  for (; e != extra.end(); ++e) out[e.key()] = e.value();
  return out;
}

long stream_error_status(std::string_view type) {
  if (type == "overloaded_error") return 529;
  if (type == "rate_limit_error" || type == "rate_limit_exceeded" || type == "insufficient_quota") {
    return 429;
  }
  if (type == "authentication_error" || type == "invalid_api_key") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "invalid_request_error") return 400;
  return 500;
}

}  // namespace detail


protocol::ChatParts to_chat_parts(const ProviderCall& call) {
  protocol::ChatParts parts;
  parts.model = call.model;
  parts.system = call.system;
  parts.system_blocks = call.system_blocks;
  parts.messages = call.messages;
  parts.max_tokens = call.max_tokens;
  parts.temperature = call.temperature;
  parts.tools = call.tools;
  parts.tool_choice = call.tool_choice;
  parts.stop_sequences = call.stop_sequences;
  parts.top_p = call.top_p;
  return parts;
}

std::optional<std::string> ProviderAdapter::unsupported(const ProviderCall&, bool) const {
  return std::nullopt;
}

std::optional<HttpRequest> ProviderAdapter::build_count_request(const ProviderCall&) const {
  return std::nullopt;
}

std::optional<uint64_t> ProviderAdapter::parse_count_response(const HttpResponse&) const {
  return std::nullopt;
}

ProviderResult ProviderAdapter::interpret_response(const HttpResponse& response, int64_t now_ms,
                                                   std::string_view api_key) const {
  if (!response.transport_ok()) {
    FailureKind kind = response.timed_out ? FailureKind::kTimeout : FailureKind::kTransport;
    return failed(kind, 0, true,
                  one_line(std::string(name()) + " " + std::string(kind_name(kind)) + ": " +
                               response.error,
                           api_key));
  }
  return parse_response(response.status, response.headers, response.body, now_ms, api_key);
}

bool may_have_served(const ProviderFailure& failure, bool request_sent, bool gateway_5xx_served) {
  switch (failure.kind) {
    case FailureKind::kInvalidResponse:
      return true;
    case FailureKind::kTimeout:
    case FailureKind::kTransport:
      return request_sent;
    case FailureKind::kServer:
      // An HTTP answer means the request went out, whatever curl counted.
      return gateway_5xx_served && (failure.http_status == 502 || failure.http_status == 504);
    default:
      return false;
  }
}

ProviderResult JsonAdapter::parse_response(long status, const HttpHeaders& headers,
                                           std::string_view body, int64_t now_ms,
                                           std::string_view api_key) const {
  if (status >= 200 && status < 300) return parse_ok(status, body, api_key);
  return parse_error(status, headers, body, now_ms, api_key);
}

StreamEvent JsonAdapter::parse_stream_event(std::string_view event, std::string_view data,
                                            std::string_view api_key) const {
  if (data == "[DONE]") {
    StreamEvent done;
    done.kind = StreamEvent::Kind::kDone;
    return done;
  }
  const json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return invalid_stream_event("data is not a JSON object", api_key);
  if (auto err = j.find("error"); err != j.end() && err->is_object()) {
    return stream_failure(data, api_key);
  }
  try {
    return read_stream_event(event, j);
  } catch (const json::exception& e) {
    return invalid_stream_event(e.what(), api_key);
  } catch (const detail::MalformedResponse& e) {
    return invalid_stream_event(e.what(), api_key);
  }
}

StreamEvent JsonAdapter::stream_failure(std::string_view data, std::string_view api_key) const {
  const detail::ProviderErrorBody error = parse_error_body(data);
  const long status = detail::stream_error_status(error.type.empty() ? error.code : error.type);
  StreamEvent event;
  event.kind = StreamEvent::Kind::kFailed;
  event.failure = parse_error(status, {}, data, 0, api_key).failure;
  event.failure.message = one_line(std::string(name()) + " stream error (as HTTP " +
                                       std::to_string(status) + ")" + error_detail(error, data),
                                   api_key);
  return event;
}

StreamEvent JsonAdapter::invalid_stream_event(std::string_view why,
                                              std::string_view api_key) const {
  std::string text = std::string(name()) + " invalid stream event: " + std::string(why);
  StreamEvent event;
  event.kind = StreamEvent::Kind::kFailed;
  event.failure =
      failed(FailureKind::kInvalidResponse, 200, false, one_line(std::move(text), api_key)).failure;
  return event;
}

FailureKind JsonAdapter::classify(long status, const detail::ProviderErrorBody& error) const {
  if (status == 429) return FailureKind::kRateLimited;
  if (status == 529 || error.type == "overloaded_error") return FailureKind::kOverloaded;
  if (status >= 500) return FailureKind::kServer;
  if (status == 401 || status == 403) return FailureKind::kAuth;
  if (status >= 400) return FailureKind::kBadRequest;
  return FailureKind::kInvalidResponse;  // 1xx/3xx: nothing we asked for
}

ProviderResult JsonAdapter::parse_error(long status, const HttpHeaders& headers,
                                        std::string_view body, int64_t now_ms,
                                        std::string_view api_key) const {
  const detail::ProviderErrorBody error = parse_error_body(body);
  const bool no_credit = out_of_credit(status, error);
  FailureKind kind = no_credit ? FailureKind::kOutOfCredit : classify(status, error);
  bool retryable = !no_credit && retryable_status(status);

  std::string text =
      std::string(name()) + " HTTP " + std::to_string(status) + error_detail(error, body);
  ProviderResult r = failed(kind, status, retryable, one_line(std::move(text), api_key));
  if (retryable || kind == FailureKind::kRateLimited) {
    r.failure.retry_after_ms = parse_retry_after(headers, now_ms);
  }
  return r;
}

ProviderResult JsonAdapter::parse_ok(long status, std::string_view body,
                                     std::string_view api_key) const {
  auto invalid = [&](std::string_view why) {
    return failed(FailureKind::kInvalidResponse, status, false,
                  one_line(std::string(name()) + " HTTP " + std::to_string(status) +
                               " invalid response: " + std::string(why),
                           api_key));
  };
  protocol::JsonValue j = protocol::JsonValue::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid("body is not JSON");
  if (!j.is_object()) return invalid("body is not a JSON object");
  try {
    return parse_success(j);
  } catch (const json::exception& e) {
    return invalid(e.what());
  } catch (const detail::MalformedResponse& e) {
    return invalid(e.what());
  }
}

}  // namespace tollgate::workers
