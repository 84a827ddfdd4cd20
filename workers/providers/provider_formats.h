// Internal to tollgate_providers: what the JSON adapters (Anthropic,
// OpenAI) share. JsonAdapter implements parse_response once (2xx bodies,
// error bodies, classification, one-line redacted messages, retry hints)
// over a few per-format hooks; each adapter fills in the hooks and builds
// its requests. Pure; the hooks may throw nlohmann::json::exception or
// MalformedResponse, which parse_response catches and turns into
// kInvalidResponse.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/chat_parts.h"
#include "protocol/error.h"
#include "workers/providers/provider_adapter.h"

namespace tollgate::workers {
namespace detail {

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
inline constexpr uint64_t kMaxReportedTokens = protocol::kMaxReportedTokens;

// usage[key]: nullopt when absent or null; throws MalformedResponse when it
// is not an unsigned integer or is above kMaxReportedTokens.
std::optional<uint64_t> token_count(const nlohmann::json& usage, const char* key);

// The `error` object of an error body ({"error": {...}}); nullopt when the
// body is not JSON or has no such object.
std::optional<nlohmann::json> error_object(std::string_view body);

// base without trailing '/' + path.
std::string join_url(std::string_view base, std::string_view path);
// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const protocol::JsonValue& j);

// The reply of a provider format reader (parse_anthropic_response, ...)
// as a result: kOk with usage, kUsageMissing without; throws
// MalformedResponse with the reader's message when it could not read it.
ProviderResult result_from(protocol::Result<protocol::ChatReply> reply);

}  // namespace detail

class JsonAdapter : public ProviderAdapter {
 public:
  ProviderResult parse_response(long status, const HttpHeaders& headers, std::string_view body,
                                int64_t now_ms, std::string_view api_key = {}) const final;
  StreamEvent parse_stream_event(std::string_view event, std::string_view data) const override;

 protected:
  // A 2xx body that is a JSON object (keys in the provider's order): the
  // reply and its usage.
  virtual ProviderResult parse_success(const protocol::JsonValue& body) const = 0;
  // The provider's error body, as far as it has the provider's shape.
  virtual detail::ProviderErrorBody parse_error_body(std::string_view body) const = 0;
  // Out of credit or over the account's usage limit: the provider will
  // refuse every call until the account is topped up (not retryable).
  virtual bool out_of_credit(long status, const detail::ProviderErrorBody& error) const = 0;
  // The kind of a non-2xx answer that is not out of credit: 429 rate
  // limited, 529 or overloaded_error overloaded, other 5xx server, 401/403
  // key rejected (kAuth), other 4xx bad request.
  virtual FailureKind classify(long status, const detail::ProviderErrorBody& error) const;

 private:
  ProviderResult parse_error(long status, const HttpHeaders& headers, std::string_view body,
                             int64_t now_ms, std::string_view api_key) const;
  ProviderResult parse_ok(long status, std::string_view body, std::string_view api_key) const;
};

}  // namespace tollgate::workers
