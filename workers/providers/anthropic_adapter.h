// The Anthropic Messages API (PROTOCOL.md sections 3 and 8): POST
// <base>/v1/messages with headers x-api-key, anthropic-version: 2023-06-01
// and content-type; the body is protocol::anthropic_request (model,
// max_tokens, messages, system, temperature clamped to 0..1, and the
// section 8 parts when set). The reply's content blocks, stop_reason and
// usage (input_tokens plus cache creation and cache reads, the two cache
// counts kept) are read by protocol::parse_anthropic_response. It can count
// a call's input: POST <base>/v1/messages/count_tokens with the call's
// model, system, messages, tools and tool_choice. A call with `stream` adds
// "stream": true and is answered in server-sent events (read_stream_event).
// Stateless; any thread.
#pragma once

#include "workers/providers/provider_formats.h"

namespace tollgate::workers {

class AnthropicAdapter final : public JsonAdapter {
 public:
  std::string_view name() const override { return "anthropic"; }
  HttpRequest build_request(const ProviderCall& call) const override;
  std::optional<HttpRequest> build_count_request(const ProviderCall& call) const override;
  // A url image when the provider takes none; a tool id outside [A-Za-z0-9_-].
  std::optional<std::string> unsupported(const ProviderCall& call, bool url_images) const override;
  std::optional<uint64_t> parse_count_response(const HttpResponse& response) const override;

 protected:
  ProviderResult parse_success(const protocol::JsonValue& body) const override;
  // message_start (id, model, usage so far), content_block_start of text
  // and tool_use blocks, content_block_delta text_delta and
  // input_json_delta, message_delta (stop_reason, cumulative usage; final
  // when it has output_tokens), message_stop (kDone). ping,
  // content_block_stop, other block kinds and unknown events: kIgnored.
  StreamEvent read_stream_event(std::string_view event, const nlohmann::json& data) const override;
  detail::ProviderErrorBody parse_error_body(std::string_view body) const override;
  // A 400 or 402 about the credit balance or a usage limit; a 403 (or a
  // permission_error) about billing or credit.
  bool out_of_credit(long status, const detail::ProviderErrorBody& error) const override;
};

}  // namespace tollgate::workers
