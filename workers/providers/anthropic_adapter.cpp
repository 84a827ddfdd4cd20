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

}  // namespace

HttpRequest AnthropicAdapter::build_request(const ProviderCall& call) const {
  return anthropic_post(call, "/v1/messages", protocol::anthropic_request(to_chat_parts(call)));
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
