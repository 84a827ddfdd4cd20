// The OpenAI Chat Completions API (PROTOCOL.md section 3): POST
// <base>/chat/completions with headers Authorization: Bearer and
// content-type; body {model, messages (the system prompt first, as role
// "system"), max_tokens, temperature clamped to 0..2}. Usage is
// prompt_tokens and completion_tokens. It has no endpoint that counts a
// call's input (build_count_request: nullopt). Stateless; any thread.
#pragma once

#include "workers/providers/provider_formats.h"

namespace tollgate::workers {

class OpenAiAdapter final : public JsonAdapter {
 public:
  std::string_view name() const override { return "openai"; }
  HttpRequest build_request(const ProviderCall& call) const override;

 protected:
  ProviderResult parse_success(const nlohmann::json& body) const override;
  detail::ProviderErrorBody parse_error_body(std::string_view body) const override;
  // A 429, 402 or 403 whose code or type is insufficient_quota or
  // billing_hard_limit_reached.
  bool out_of_credit(long status, const detail::ProviderErrorBody& error) const override;
};

}  // namespace tollgate::workers
