// Anthropic Messages API: request building and response parsing.
#include "workers/providers/anthropic_adapter.h"

#include <algorithm>
#include <cctype>

namespace tollgate::workers {
namespace {

using detail::MalformedResponse;
using detail::ProviderErrorBody;
using detail::token_count;
using nlohmann::json;

constexpr std::string_view kAnthropicVersion = "2023-06-01";

// An Anthropic count field: absent or null is 0.
uint64_t count_or_zero(const json& usage, const char* key) { return token_count(usage, key).value_or(0); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

json anthropic_messages(const ProviderCall& call) {
  json messages = json::array();
  for (const auto& m : call.messages) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  return messages;
}

HttpRequest anthropic_post(const ProviderCall& call, std::string_view path, const json& body) {
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
  json body = {{"model", call.model},
               {"max_tokens", call.max_tokens},
               {"messages", anthropic_messages(call)},
               {"temperature", std::clamp(call.temperature, 0.0, 1.0)}};
  if (call.system) body["system"] = *call.system;
  return anthropic_post(call, "/v1/messages", body);
}

std::optional<HttpRequest> AnthropicAdapter::build_count_request(const ProviderCall& call) const {
  json body = {{"model", call.model}, {"messages", anthropic_messages(call)}};
  if (call.system) body["system"] = *call.system;
  return anthropic_post(call, "/v1/messages/count_tokens", body);
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

ProviderResult AnthropicAdapter::parse_success(const json& body) const {
  ProviderResult result;
  const json& content = body.at("content");
  if (!content.is_array()) throw MalformedResponse("content is not an array");
  for (const auto& block : content) {
    if (block.value("type", "") == "text") result.reply.text += block.at("text").get<std::string>();
  }
  result.reply.model = body.value("model", "");
  auto usage = body.find("usage");
  if (usage == body.end() || !usage->is_object() || !usage->contains("output_tokens")) {
    result.status = ProviderResult::Status::kUsageMissing;
    return result;
  }
  result.reply.input_tokens = count_or_zero(*usage, "input_tokens") +
                              count_or_zero(*usage, "cache_creation_input_tokens") +
                              count_or_zero(*usage, "cache_read_input_tokens");
  result.reply.output_tokens = count_or_zero(*usage, "output_tokens");
  result.status = ProviderResult::Status::kOk;
  return result;
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
