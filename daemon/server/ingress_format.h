// The provider-compatible endpoints' formats (PROTOCOL.md section 11):
// what an OpenAI Chat Completions or Anthropic Messages request becomes as
// a `call`, how its `model` picks the provider, and how a call's reply or
// error is written back in the endpoint's own format. The translation of
// the conversation itself is protocol/openai_format.h and
// anthropic_format.h (the same code the provider adapters use); this adds
// the pieces only an ingress needs.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/config.h"
#include "protocol/chat_parts.h"
#include "protocol/error.h"
#include "protocol/replies.h"
#include "protocol/requests.h"

namespace tollgate::ingress {

enum class Dialect { kOpenAI, kAnthropic };

// A request body, read.
struct ClientRequest {
  protocol::ChatParts parts;
  std::string model;           // as the client wrote it ("auto" when it gave none)
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
};

// The body as JSON in `dialect`'s request format; bad_request naming the
// field otherwise. Nesting deeper than `max_depth` is refused before it is
// read.
protocol::Result<ClientRequest> read_request(Dialect dialect, std::string_view body,
                                             size_t max_depth);

// Where `model` sends the call: "auto" (or empty) the agent's chain;
// "<provider>/<model>" that provider first with that model; a bare model
// the provider that lists it (TOML models) or has it as its default, else
// the chain with that model. A provider name that is not configured is
// bad_request.
struct ModelRoute {
  std::optional<std::string> provider;
  std::optional<std::string> model;
};
protocol::Result<ModelRoute> route_model(const Config& config, std::string_view model);

// The `call` for agent `ai_name`.
protocol::CallRequest make_call(ClientRequest request, const std::string& ai_name,
                                const ModelRoute& route,
                                std::optional<std::string> idempotency_key);

// The reply as the endpoint's response body. `id` is the response's id
// (chatcmpl-... or msg_...), `created` unix seconds (OpenAI only).
std::string response_body(Dialect dialect, const protocol::CallReply& reply, const std::string& id,
                          int64_t created);

// An error as the endpoint answers it.
struct ErrorAnswer {
  int status = 500;
  std::string body;
  std::optional<int64_t> retry_after_ms;
  // False for errors a retry cannot fix (budget exhausted, emergency
  // shutdown): sent as x-should-retry, which both official SDKs obey.
  bool should_retry = true;
};
ErrorAnswer error_answer(Dialect dialect, const protocol::Error& error);
// The error's `type` in the dialect (OpenAI error.type, Anthropic error.type).
std::string error_type(Dialect dialect, protocol::ErrorCode code);

// GET /v1/models: "auto" and <provider>/<model> for each configured
// provider's default and listed models.
std::string models_body(Dialect dialect, const Config& config);

}  // namespace tollgate::ingress
