#include "tools/fake-provider/api_formats.h"

namespace tollgate::fake_provider {

using nlohmann::json;

namespace detail {

std::optional<json> parse_body(const httplib::Request& req) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

void add_text(PromptSize& size, std::string_view text) {
  size.bytes += text.size();
  // UTF-8 code points: every byte that is not a continuation byte.
  for (unsigned char c : text) size.chars += (c & 0xC0) != 0x80 ? 1 : 0;
}

bool valid_tool_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void PrefixHash::add(std::string_view piece) {
  for (unsigned char c : piece) {
    hash_ ^= c;
    hash_ *= 1099511628211ull;
  }
  // A separator, so ("ab", "c") and ("a", "bc") differ.
  hash_ ^= 0xFF;
  hash_ *= 1099511628211ull;
}

}  // namespace detail

std::string dump(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

ApiError anthropic_error(int status, const std::string& type, const std::string& message) {
  return {status, {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}};
}

ApiError openai_error(int status, const std::string& message, const std::string& type,
                      const std::optional<std::string>& param,
                      const std::optional<std::string>& code) {
  json err = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (param) err["param"] = *param;
  if (code) err["code"] = *code;
  return {status, {{"error", err}}};
}

ApiError status_error(const std::string& api, int status) {
  if (api == "anthropic") {
    switch (status) {
      case 400: return anthropic_error(status, "invalid_request_error", "Invalid request");
      case 401: return anthropic_error(status, "authentication_error", "invalid x-api-key");
      case 403: return anthropic_error(status, "permission_error", "Your API key does not have permission to use the specified resource.");
      case 404: return anthropic_error(status, "not_found_error", "The requested resource could not be found.");
      case 413: return anthropic_error(status, "request_too_large", "Request exceeds the maximum allowed number of bytes.");
      case 429: return anthropic_error(status, "rate_limit_error", "Number of requests has exceeded your per-minute rate limit.");
      case 529: return anthropic_error(status, "overloaded_error", "Overloaded");
      default: return anthropic_error(status, "api_error", "Internal server error");
    }
  }
  switch (status) {
    case 400: return openai_error(status, "Invalid request", "invalid_request_error");
    case 401: return openai_error(status, "Incorrect API key provided.", "invalid_request_error", std::nullopt, "invalid_api_key");
    case 403: return openai_error(status, "Country, region, or territory not supported", "request_forbidden", std::nullopt, "unsupported_country_region_territory");
    case 404: return openai_error(status, "The model does not exist or you do not have access to it.", "invalid_request_error", std::nullopt, "model_not_found");
    case 429: return openai_error(status, "Rate limit reached for requests. Please try again later.", "requests", std::nullopt, "rate_limit_exceeded");
    case 503: return openai_error(status, "The engine is currently overloaded, please try again later.", "server_error");
    default: return openai_error(status, "The server had an error while processing your request. Sorry about that!", "server_error");
  }
}

ApiError out_of_credit_error(const std::string& api) {
  if (api == "anthropic") {
    return anthropic_error(400, "invalid_request_error",
                           "Your credit balance is too low to access the Anthropic API. Please "
                           "go to Plans & Billing to upgrade or purchase credits.");
  }
  return openai_error(429,
                      "You exceeded your current quota, please check your plan and billing "
                      "details.",
                      "insufficient_quota", std::nullopt, "insufficient_quota");
}

}  // namespace tollgate::fake_provider
