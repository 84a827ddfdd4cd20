// Provider adapters: turn a provider-neutral call into the HTTP request a
// provider's API expects, and turn the HTTP answer back into a result with
// the provider's reported usage or a classified failure.
//
// Pure functions of their arguments (the current time is passed in as
// now_ms, unix epoch milliseconds): no I/O, no clock, no globals, callable
// from any thread. They never throw on bad input: malformed provider JSON is
// a kInvalidResponse failure. Failure messages are one line and never
// contain the api key (it is redacted when a provider echoes it).
//
// Formats: Anthropic Messages API (POST <base>/v1/messages) and OpenAI Chat
// Completions (POST <base>/chat/completions); see PROTOCOL.md section 3.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "workers/providers/provider_types.h"

namespace tollgate::workers {

// The HTTP request for `call`. Anthropic: headers x-api-key,
// anthropic-version: 2023-06-01, content-type; body {model, max_tokens,
// messages, system (when set), temperature clamped to 0..1}. OpenAI:
// Authorization: Bearer, content-type; body {model, messages (system prompt
// first as role "system"), max_tokens, temperature clamped to 0..2}.
// A trailing '/' on base_url is ignored.
HttpRequest build_request(ProviderApi api, const ProviderCall& call);

// The provider's own count of a call's input tokens, where it has one:
// Anthropic's POST <base>/v1/messages/count_tokens with the call's model,
// system and messages (no max_tokens, temperature). nullopt for OpenAI,
// which has no counting endpoint.
std::optional<HttpRequest> build_count_request(ProviderApi api, const ProviderCall& call);
// The input_tokens of a count_tokens answer; nullopt unless it is a 200
// with an unsigned count (anything else: the caller keeps its own bound).
std::optional<uint64_t> parse_count_response(const HttpResponse& response);

// Interprets one complete HTTP response (status, lower-cased headers, body).
// `api_key` is only used to redact it from messages.
ProviderResult parse_response(ProviderApi api, long status, const HttpHeaders& headers,
                              std::string_view body, int64_t now_ms,
                              std::string_view api_key = {});

// parse_response for what the HTTP client returned, including transport
// errors (kTransport or kTimeout, both retryable).
ProviderResult interpret_response(ProviderApi api, const HttpResponse& response,
                                  int64_t now_ms, std::string_view api_key = {});

// Could the provider have served (and billed) an attempt that failed this
// way? Then its reservation is charged in full: usage is never
// undercounted. request_sent: any byte of the request left (a request none
// of whose bytes left cannot have been served). Served, maybe:
// - an unreadable 2xx body;
// - a timeout or a broken connection after the request was sent;
// - a 502 or 504 when gateway_5xx_served: an answer from a proxy or another
//   gateway in front of the provider, which may have passed the request on
//   and lost the answer (ProviderConfig::gateway_5xx_charged()). The
//   vendor's own API hosts answer 502/504 for requests they did not serve.
// Every other failure (4xx, 429, 500, 503, 529, ...) was not served.
bool may_have_served(const ProviderFailure& failure, bool request_sent, bool gateway_5xx_served);

// The wait the provider asks for, in ms, from (first match wins):
// `retry-after-ms`; `retry-after` as seconds or an HTTP-date (relative to
// now_ms); otherwise, the longest of the rate-limit reset headers
// (Anthropic `anthropic-ratelimit-*-reset` RFC 3339 times, OpenAI
// `x-ratelimit-reset-*` durations such as "6m0s" or "20ms").
// Dates in the past give 0. nullopt when no header says anything usable.
std::optional<int64_t> parse_retry_after(const HttpHeaders& headers, int64_t now_ms);

}  // namespace tollgate::workers
