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

// Readers of streamed event JSON; each throws MalformedResponse naming the
// key when it is missing (need_) or has the wrong type. An index is an
// unsigned integer below kMaxStreamIndex.
inline constexpr uint64_t kMaxStreamIndex = 1 << 16;
const nlohmann::json& need_member(const nlohmann::json& j, const char* key);
std::string need_text(const nlohmann::json& j, const char* key);
// absent or null: nullopt
std::optional<std::string> maybe_text(const nlohmann::json& j, const char* key);
uint64_t need_index(const nlohmann::json& j, const char* key);

// base without trailing '/' + path.
std::string join_url(std::string_view base, std::string_view path);
// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const protocol::JsonValue& j);

// The reply of a provider format reader (parse_anthropic_response, ...)
// as a result: kOk with usage, kUsageMissing without; throws
// MalformedResponse with the reader's message when it could not read it.
ProviderResult result_from(protocol::Result<protocol::ChatReply> reply);

// `body` (an object with its keys in alphabetical order) with the keys of
// `extra` (the same) merged in, still in alphabetical order: the stream
// fields of a request, leaving a non-streamed request's bytes unchanged.
protocol::JsonValue with_fields(const protocol::JsonValue& body, const protocol::JsonValue& extra);

// The HTTP status a streamed error stands for, from its error type
// (Anthropic or OpenAI names): overloaded_error 529, rate_limit_error and
// insufficient_quota 429, authentication_error 401, permission_error 403,
// not_found_error 404, request_too_large 413, invalid_request_error 400,
// anything else (api_error, server_error, unknown) 500.
long stream_error_status(std::string_view type);

}  // namespace detail

class JsonAdapter : public ProviderAdapter {
 public:
  ProviderResult parse_response(long status, const HttpHeaders& headers, std::string_view body,
                                int64_t now_ms, std::string_view api_key = {}) const final;
  // OpenAI's `data: [DONE]` is kDone; data that is not a JSON object is
  // kInvalidResponse; data with an `error` object (Anthropic's error event,
  // OpenAI's error chunk) is stream_failure; anything else is read by
  // read_stream_event.
  StreamEvent parse_stream_event(std::string_view event, std::string_view data,
                                 std::string_view api_key = {}) const final;

 protected:
  // A 2xx body that is a JSON object (keys in the provider's order): the
  // reply and its usage.
  virtual ProviderResult parse_success(const protocol::JsonValue& body) const = 0;
  // One streamed event's JSON object (not an error), as parse_stream_event
  // documents; may throw like parse_success.
  virtual StreamEvent read_stream_event(std::string_view event,
                                        const nlohmann::json& data) const = 0;
  // The provider's error body, as far as it has the provider's shape.
  virtual detail::ProviderErrorBody parse_error_body(std::string_view body) const = 0;
  // Out of credit or over the account's usage limit: the provider will
  // refuse every call until the account is topped up (not retryable).
  virtual bool out_of_credit(long status, const detail::ProviderErrorBody& error) const = 0;
  // The kind of a non-2xx answer that is not out of credit: 429 rate
  // limited, 529 or overloaded_error overloaded, other 5xx server, 401/403
  // key rejected (kAuth), other 4xx bad request.
  virtual FailureKind classify(long status, const detail::ProviderErrorBody& error) const;

  // For parse_stream_event: an error event's data (the provider's error
  // body), classified like that body in an HTTP answer with the status its
  // type stands for (stream_error_status); and data that is not the
  // documented shape (kInvalidResponse, `why` in the message).
  StreamEvent stream_failure(std::string_view data, std::string_view api_key) const;
  StreamEvent invalid_stream_event(std::string_view why, std::string_view api_key) const;

 private:
  ProviderResult parse_error(long status, const HttpHeaders& headers, std::string_view body,
                             int64_t now_ms, std::string_view api_key) const;
  ProviderResult parse_ok(long status, std::string_view body, std::string_view api_key) const;
};

}  // namespace tollgate::workers
