// ProviderAdapter: one provider wire format. It turns a provider-neutral
// call into the HTTP request the provider's API expects, and the HTTP
// answer back into a result with the provider's reported usage or a
// classified failure (its own error shapes, its own out-of-credit and
// key-rejected signals). A new wire format is one adapter (a class deriving
// from this one, in its own file pair) added to the AdapterRegistry
// (adapter_registry.h); the call code only ever sees this interface.
//
// Adapters are stateless and immutable: every member is a pure function of
// its arguments (the current time comes in as now_ms, unix epoch
// milliseconds), callable from any thread on a shared instance. They never
// throw on bad input: malformed provider JSON is a kInvalidResponse
// failure. Failure messages are one line and never contain the api key (it
// is redacted when a provider echoes it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/chat_parts.h"
#include "workers/providers/provider_types.h"

namespace tollgate::workers {

// One piece of a streamed answer, in the provider's own block numbering
// (`block`: Anthropic's content index; OpenAI: 0 for the message text and
// 1 + tool_calls[].index for a tool call). StreamAccumulator
// (stream_accumulator.h) renumbers the blocks it keeps.
struct StreamDelta {
  enum class Type {
    kTextStart,     // a text block begins (text: its first text, often empty)
    kText,          // text: the next piece of a text block
    kToolUseStart,  // a tool_use block begins: id, name
    kInputJson,     // text: the next piece of a tool_use block's input JSON
  };
  Type type = Type::kText;
  uint64_t block = 0;
  std::string text{};
  std::string id{};
  std::string name{};
  bool operator==(const StreamDelta&) const = default;
};

// One server-sent event of a streamed answer, as parse_stream_event reads
// it. Plain data.
struct StreamEvent {
  enum class Kind {
    kNotSupported,  // this adapter cannot read streamed answers
    kUpdate,        // some of the fields below are set
    kDone,          // the answer is complete (Anthropic message_stop, OpenAI [DONE])
    kFailed,        // failure: the provider ended the stream with an error (or garbage)
    kIgnored,       // an event with nothing for the caller (ping, thinking, ...)
  };
  Kind kind = Kind::kNotSupported;
  std::string message_id{};  // when the event says it
  std::string model{};       // when the event says it
  std::vector<StreamDelta> deltas{};
  // Why the model stopped, when the event says it (nullopt inside: a name
  // this format does not know, as in a non-streamed reply).
  std::optional<std::optional<protocol::StopReason>> stop_reason{};
  bool refusal = false;  // OpenAI delta.refusal: the text is a refusal
  // Usage as the event reports it. input_tokens counts all input, cache
  // creation and reads included (as ProviderReply). final_usage: these are
  // the answer's totals (Anthropic message_delta with output_tokens; the
  // OpenAI usage chunk), not the counts at its start.
  std::optional<uint64_t> input_tokens{};
  std::optional<uint64_t> output_tokens{};
  std::optional<uint64_t> cache_creation_input_tokens{};
  std::optional<uint64_t> cache_read_input_tokens{};
  bool final_usage = false;
  ProviderFailure failure{};  // kFailed
};

class ProviderAdapter {
 public:
  virtual ~ProviderAdapter() = default;

  // The API name in configuration (`api = "anthropic"`) and in messages.
  virtual std::string_view name() const = 0;

  // The HTTP request for `call`. A trailing '/' on base_url is ignored.
  virtual HttpRequest build_request(const ProviderCall& call) const = 0;

  // Why this format cannot carry `call`, naming the block (e.g.
  // "messages[1].content[0]: image by url cannot be sent to this provider
  // (image_urls = false)"), or nullopt when it can. url_images: the
  // provider takes images by URL (its configuration). The caller checks
  // before reserving anything and answers bad_request with this message.
  // The default: nothing is refused.
  virtual std::optional<std::string> unsupported(const ProviderCall& call, bool url_images) const;

  // Interprets one complete HTTP response (status, lower-cased headers,
  // body). `api_key` is only used to redact it from messages. A 2xx is the
  // reply with its usage (kOk), without usage (kUsageMissing) or, when it
  // is not the documented shape, kInvalidResponse. Anything else is a
  // failure classified by kind (FailureKind), retryable or not, with the
  // provider's wait hint (parse_retry_after) when it may be retried.
  virtual ProviderResult parse_response(long status, const HttpHeaders& headers,
                                        std::string_view body, int64_t now_ms,
                                        std::string_view api_key = {}) const = 0;

  // The provider's own count of a call's input tokens, where it has one
  // (Anthropic's count_tokens). nullopt: this API cannot count (the
  // default), and the caller keeps its own bound.
  virtual std::optional<HttpRequest> build_count_request(const ProviderCall& call) const;
  // The count in the answer to build_count_request; nullopt unless it is a
  // 200 with an unsigned count (the default: always nullopt).
  virtual std::optional<uint64_t> parse_count_response(const HttpResponse& response) const;

  // One server-sent event of an answer to a request that asked for a
  // stream (ProviderCall::stream): `event` is the SSE event name (empty when
  // the stream names none), `data` its data lines joined by '\n'. Events of
  // one answer are passed in order; kDone or kFailed ends it. An error event
  // is a kFailed classified like the same error in a non-streamed answer
  // (its type read as the HTTP status it stands for: overloaded_error as
  // 529, rate_limit_error as 429, ...); data that is not the documented
  // JSON is kInvalidResponse. `api_key` is only used to redact messages.
  virtual StreamEvent parse_stream_event(std::string_view event, std::string_view data,
                                         std::string_view api_key = {}) const = 0;

  // parse_response for what a transport returned, including transport
  // errors (kTransport or kTimeout, both retryable).
  ProviderResult interpret_response(const HttpResponse& response, int64_t now_ms,
                                    std::string_view api_key = {}) const;
};

// The neutral parts of a call (a copy), as the provider formats
// (protocol/anthropic_format.h, openai_format.h) translate them.
protocol::ChatParts to_chat_parts(const ProviderCall& call);

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
