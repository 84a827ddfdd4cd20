// The OpenAI Chat Completions API (PROTOCOL.md sections 3 and 8), also
// spoken by OpenAI-compatible servers: POST <base>/chat/completions with
// headers Authorization: Bearer and content-type; the body is
// protocol::openai_request (model, messages with the system prompt first as
// role "system", max_tokens, temperature clamped to 0..2, and the section 8
// parts translated). The reply (first choice: text, tool_calls,
// finish_reason; usage prompt_tokens, completion_tokens and
// prompt_tokens_details.cached_tokens) is read by
// protocol::parse_openai_response. It has no endpoint that counts a call's
// input (build_count_request: nullopt). A call with `stream` adds
// "stream": true and "stream_options": {"include_usage": true}; the answer
// is chunks in server-sent events (read_stream_event). Stateless; any thread.
#pragma once

#include "workers/providers/provider_formats.h"

namespace tollgate::workers {

class OpenAiAdapter final : public JsonAdapter {
 public:
  std::string_view name() const override { return "openai"; }
  HttpRequest build_request(const ProviderCall& call) const override;
  // A url image when the provider takes none; an image in a tool_result or
  // an assistant turn; a tool block in the wrong turn.
  std::optional<std::string> unsupported(const ProviderCall& call, bool url_images) const override;

 protected:
  ProviderResult parse_success(const protocol::JsonValue& body) const override;
  // A chat.completion.chunk: id, model, choices[0].delta content (block 0),
  // refusal (block 0, refusal set), tool_calls (block 1 + index: a start
  // when the piece names the function, its id or the id a non-streamed
  // reply would give; the arguments piece), finish_reason, and the usage
  // chunk (both counts: final usage; cached_tokens as cache reads).
  StreamEvent read_stream_event(std::string_view event, const nlohmann::json& data) const override;
  detail::ProviderErrorBody parse_error_body(std::string_view body) const override;
  // A 429, 402 or 403 whose code or type is insufficient_quota or
  // billing_hard_limit_reached.
  bool out_of_credit(long status, const detail::ProviderErrorBody& error) const override;
};

}  // namespace tollgate::workers
