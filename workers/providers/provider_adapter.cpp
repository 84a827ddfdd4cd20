// Dispatch by API, failure classification and one-line failure messages.
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

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
         status == 529;
}

FailureKind kind_for_status(long status, const detail::ProviderErrorBody& error) {
  if (status == 429) return FailureKind::kRateLimited;
  if (status == 529 || error.type == "overloaded_error") return FailureKind::kOverloaded;
  if (status >= 500) return FailureKind::kServer;
  if (status == 401 || status == 403) return FailureKind::kAuth;
  if (status >= 400) return FailureKind::kBadRequest;
  return FailureKind::kInvalidResponse;  // 1xx/3xx: nothing we asked for
}

ProviderResult parse_error(ProviderApi api, long status, const HttpHeaders& headers,
                           std::string_view body, int64_t now_ms, std::string_view api_key) {
  detail::ProviderErrorBody error = api == ProviderApi::kAnthropic
                                        ? detail::parse_anthropic_error(body)
                                        : detail::parse_openai_error(body);
  bool out_of_credit = api == ProviderApi::kAnthropic
                           ? detail::anthropic_out_of_credit(status, error)
                           : detail::openai_out_of_credit(status, error);
  FailureKind kind = out_of_credit ? FailureKind::kOutOfCredit : kind_for_status(status, error);
  bool retryable = !out_of_credit && retryable_status(status);

  std::string text = std::string(api_name(api)) + " HTTP " + std::to_string(status);
  if (error.parsed) {
    std::string label = !error.code.empty() ? error.code : error.type;
    if (!label.empty()) text += " " + label;
    if (!error.message.empty()) text += ": " + error.message;
  } else if (!body.empty()) {
    text += ": " + std::string(body.substr(0, kMaxMessageBytes));
  }
  ProviderResult r = failed(kind, status, retryable, one_line(std::move(text), api_key));
  if (retryable || kind == FailureKind::kRateLimited) {
    r.failure.retry_after_ms = parse_retry_after(headers, now_ms);
  }
  return r;
}

ProviderResult parse_success(ProviderApi api, long status, std::string_view body,
                             std::string_view api_key) {
  auto invalid = [&](std::string_view why) {
    return failed(FailureKind::kInvalidResponse, status, false,
                  one_line(std::string(api_name(api)) + " HTTP " + std::to_string(status) +
                               " invalid response: " + std::string(why),
                           api_key));
  };
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid("body is not JSON");
  if (!j.is_object()) return invalid("body is not a JSON object");
  try {
    return api == ProviderApi::kAnthropic ? detail::parse_anthropic_success(j)
                                          : detail::parse_openai_success(j);
  } catch (const json::exception& e) {
    return invalid(e.what());
  } catch (const detail::MalformedResponse& e) {
    return invalid(e.what());
  }
}

}  // namespace

std::string_view api_name(ProviderApi api) {
  return api == ProviderApi::kAnthropic ? "anthropic" : "openai";
}

std::optional<ProviderApi> api_from_name(std::string_view name) {
  if (name == "anthropic") return ProviderApi::kAnthropic;
  if (name == "openai") return ProviderApi::kOpenAi;
  return std::nullopt;
}

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

std::string join_url(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + std::string(path);
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace detail

HttpRequest build_request(ProviderApi api, const ProviderCall& call) {
  return api == ProviderApi::kAnthropic ? detail::build_anthropic_request(call)
                                        : detail::build_openai_request(call);
}

std::optional<HttpRequest> build_count_request(ProviderApi api, const ProviderCall& call) {
  if (api != ProviderApi::kAnthropic) return std::nullopt;
  return detail::build_anthropic_count_request(call);
}

std::optional<uint64_t> parse_count_response(const HttpResponse& response) {
  if (!response.transport_ok() || response.status != 200) return std::nullopt;
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return std::nullopt;
  try {
    return detail::token_count(body, "input_tokens");
  } catch (const detail::MalformedResponse&) {
    return std::nullopt;
  }
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

ProviderResult parse_response(ProviderApi api, long status, const HttpHeaders& headers,
                              std::string_view body, int64_t now_ms, std::string_view api_key) {
  if (status >= 200 && status < 300) return parse_success(api, status, body, api_key);
  return parse_error(api, status, headers, body, now_ms, api_key);
}

ProviderResult interpret_response(ProviderApi api, const HttpResponse& response, int64_t now_ms,
                                  std::string_view api_key) {
  if (!response.transport_ok()) {
    FailureKind kind = response.timed_out ? FailureKind::kTimeout : FailureKind::kTransport;
    return failed(kind, 0, true,
                  one_line(std::string(api_name(api)) + " " + std::string(kind_name(kind)) +
                               ": " + response.error,
                           api_key));
  }
  return parse_response(api, response.status, response.headers, response.body, now_ms, api_key);
}

}  // namespace tollgate::workers
