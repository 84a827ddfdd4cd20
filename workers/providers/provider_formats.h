// Internal to tollgate_providers: the per-API halves of the adapters
// (provider_adapter.h is the public face). Pure functions; the parse_*
// functions may throw nlohmann::json::exception or MalformedResponse, which parse_response
// catches and turns into kInvalidResponse.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "workers/providers/provider_types.h"

namespace tollgate::workers::detail {

// A 2xx body that is JSON but not the documented shape.
struct MalformedResponse : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A provider's error body, as far as it could be read.
struct ProviderErrorBody {
  bool parsed = false;  // the body had the provider's error shape
  std::string type;     // Anthropic error.type / OpenAI error.type
  std::string code;     // OpenAI error.code (string form); empty otherwise
  std::string message;
};

// No real call reports anywhere near this many tokens; a count above it is
// a malformed response (charged as a full reservation, like any other),
// never a number the ledger adds up: sums of counts cannot overflow.
inline constexpr uint64_t kMaxReportedTokens = uint64_t{1} << 40;

// usage[key]: nullopt when absent or null; throws MalformedResponse when it
// is not an unsigned integer or is above kMaxReportedTokens.
std::optional<uint64_t> token_count(const nlohmann::json& usage, const char* key);

// base without trailing '/' + path.
std::string join_url(std::string_view base, std::string_view path);
// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump_json(const nlohmann::json& j);

HttpRequest build_anthropic_request(const ProviderCall& call);
HttpRequest build_openai_request(const ProviderCall& call);
HttpRequest build_anthropic_count_request(const ProviderCall& call);

ProviderResult parse_anthropic_success(const nlohmann::json& body);
ProviderResult parse_openai_success(const nlohmann::json& body);

ProviderErrorBody parse_anthropic_error(std::string_view body);
ProviderErrorBody parse_openai_error(std::string_view body);

// Out of credit or over the account's usage limit: the provider will refuse
// every call until the account is topped up (not retryable).
bool anthropic_out_of_credit(long status, const ProviderErrorBody& error);
bool openai_out_of_credit(long status, const ProviderErrorBody& error);

}  // namespace tollgate::workers::detail
