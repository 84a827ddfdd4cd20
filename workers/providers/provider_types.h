// Plain data exchanged between the provider adapters, the transport and
// the worker that drives a call: a provider-neutral call, an HTTP request and
// response, and the interpreted result of one provider attempt.
//
// No behaviour, no curl or zmq types: safe to copy and move between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/content.h"
#include "protocol/requests.h"

namespace tollgate::workers {

// A turn: role and content (a string, or blocks; see protocol::ChatMessage).
using Message = protocol::ChatMessage;

// One call to one provider, independent of its wire format.
struct ProviderCall {
  std::string api_key;
  std::string base_url;  // anthropic: https://api.anthropic.com; openai: https://api.openai.com/v1
  std::string model;
  std::optional<std::string> system;
  std::vector<protocol::ContentBlock> system_blocks;  // system as text blocks
  std::vector<Message> messages;
  uint32_t max_tokens = 1024;
  double temperature = 0.7;
  // PROTOCOL.md section 8; empty/absent for a text-only call.
  std::vector<protocol::ToolSpec> tools;
  std::optional<protocol::ToolChoice> tool_choice;
  std::vector<std::string> stop_sequences;
  std::optional<double> top_p;
  // Ask for the answer as server-sent events (PROTOCOL.md section 9): the
  // adapters add their format's stream fields; false leaves the request's
  // bytes as they were before streaming.
  bool stream = false;
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // in send order
  std::string body;
};

// Response header names are lower-cased; a repeated header keeps its last value.
using HttpHeaders = std::map<std::string, std::string>;

// What the transport hands back for one request. When `error` is non-empty
// the transfer failed (no complete HTTP response): `status` is then whatever
// was received (often 0) and must not be trusted.
struct HttpResponse {
  long status = 0;
  HttpHeaders headers;
  std::string body;
  std::string error;       // empty on success: transport error text
  int curl_code = 0;       // CURLcode of the transfer; 0 = CURLE_OK
  bool timed_out = false;  // the connect or total timeout fired
  bool cancelled = false;  // ended by Transport::cancel (error: its reason)
  // Did any byte of the request leave (curl's CURLINFO_REQUEST_SIZE > 0)?
  // False until the transport saw bytes go out: when the connection or
  // the TLS handshake failed, when the transfer never started (queued at
  // stop(), submitted after it) the provider cannot have served it, and a
  // request that was never sent must never be charged.
  bool request_sent = false;
  double total_time_ms = 0;

  bool transport_ok() const { return error.empty(); }
};

// Why an attempt failed. Names (kind_name) are stable: they appear in the
// `attempts[].code` of replies and in logs.
enum class FailureKind {
  kRateLimited,      // 429 (not insufficient_quota): retryable
  kOverloaded,       // 529 / overloaded_error: retryable
  kServer,           // 5xx; 500/502/503/504 retryable
  kBadRequest,       // other 4xx: the request is wrong, do not retry
  kAuth,             // 401/403: key rejected
  kOutOfCredit,      // provider account out of credit / over its usage limit
  kTransport,        // connection refused/reset, truncated response: retryable
  kTimeout,          // connect or total timeout: retryable
  kInvalidResponse,  // 2xx that is not the provider's documented JSON
};

// "rate_limited", "overloaded", "server", "bad_request", "auth",
// "out_of_credit", "transport", "timeout", "invalid_response".
std::string_view kind_name(FailureKind kind);

struct ProviderFailure {
  FailureKind kind = FailureKind::kInvalidResponse;
  long http_status = 0;  // 0 for transport errors and timeouts
  bool retryable = false;
  std::optional<int64_t> retry_after_ms;  // the provider's own hint, if any
  std::string message;                    // one line, never contains the api key
};

struct ProviderReply {
  std::string text;   // the text blocks of `content` joined
  std::string model;  // as the provider reports it
  uint64_t input_tokens = 0;   // all input, including cache creation + cache reads
  uint64_t output_tokens = 0;
  // The reply's text and tool_use blocks in order, and why it stopped
  // (nullopt when the provider did not say or said something unknown).
  std::vector<protocol::ContentBlock> content;
  std::optional<protocol::StopReason> stop_reason;
  // Prompt-cache counts, when reported; both are part of input_tokens.
  // Anthropic: cache_creation_input_tokens / cache_read_input_tokens;
  // OpenAI: prompt_tokens_details.cached_tokens (reads only).
  std::optional<uint64_t> cache_creation_input_tokens;
  std::optional<uint64_t> cache_read_input_tokens;
};

// The outcome of one attempt.
//   kOk           : reply is set with the reported usage.
//   kUsageMissing : a 2xx reply without a usage field; reply.text/model are
//                   set, tokens are 0. The caller charges the reservation in
//                   full and logs it.
//   kFailed       : failure is set.
struct ProviderResult {
  enum class Status { kOk, kUsageMissing, kFailed };
  Status status = Status::kFailed;
  ProviderReply reply;
  ProviderFailure failure;

  bool ok() const { return status != Status::kFailed; }
};

}  // namespace tollgate::workers
