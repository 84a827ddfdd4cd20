// The Anthropic Messages API (PROTOCOL.md section 3): POST
// <base>/v1/messages with headers x-api-key, anthropic-version: 2023-06-01
// and content-type; body {model, max_tokens, messages, system (when set),
// temperature clamped to 0..1}. Usage is input_tokens (plus cache creation
// and cache reads) and output_tokens. It can count a call's input: POST
// <base>/v1/messages/count_tokens with the call's model, system and
// messages (no max_tokens, temperature). Stateless; any thread.
#pragma once

#include "workers/providers/provider_formats.h"

namespace tollgate::workers {

class AnthropicAdapter final : public JsonAdapter {
 public:
  std::string_view name() const override { return "anthropic"; }
  HttpRequest build_request(const ProviderCall& call) const override;
  std::optional<HttpRequest> build_count_request(const ProviderCall& call) const override;
  std::optional<uint64_t> parse_count_response(const HttpResponse& response) const override;

 protected:
  ProviderResult parse_success(const nlohmann::json& body) const override;
  detail::ProviderErrorBody parse_error_body(std::string_view body) const override;
  // A 400 or 402 about the credit balance or a usage limit; a 403 (or a
  // permission_error) about billing or credit.
  bool out_of_credit(long status, const detail::ProviderErrorBody& error) const override;
};

}  // namespace tollgate::workers
