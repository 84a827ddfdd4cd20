// OpenAI Chat Completions API: request building and response parsing.
#include "workers/providers/openai_adapter.h"

#include <algorithm>

namespace tollgate::workers {

using detail::MalformedResponse;
using detail::ProviderErrorBody;
using detail::token_count;
using nlohmann::json;

HttpRequest OpenAiAdapter::build_request(const ProviderCall& call) const {
  json messages = json::array();
  if (call.system) messages.push_back({{"role", "system"}, {"content", *call.system}});
  for (const auto& m : call.messages) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  json body = {{"model", call.model},
               {"messages", std::move(messages)},
               {"max_tokens", call.max_tokens},
               {"temperature", std::clamp(call.temperature, 0.0, 2.0)}};

  HttpRequest req;
  req.method = "POST";
  req.url = detail::join_url(call.base_url, "/chat/completions");
  req.headers = {{"Authorization", "Bearer " + call.api_key},
                 {"content-type", "application/json"}};
  if (call.api_key.empty()) req.headers.erase(req.headers.begin());  // a keyless provider: no key header
  req.body = detail::dump_json(body);
  return req;
}

ProviderResult OpenAiAdapter::parse_success(const json& body) const {
  ProviderResult result;
  const json& choices = body.at("choices");
  if (!choices.is_array() || choices.empty()) {
    throw MalformedResponse("choices is empty");
  }
  const json& content = choices.at(0).at("message").at("content");
  // A null content (refusal, tool call) is an empty text, not an error.
  if (!content.is_null()) result.reply.text = content.get<std::string>();
  result.reply.model = body.value("model", "");
  auto usage = body.find("usage");
  std::optional<uint64_t> in, out;
  if (usage != body.end() && usage->is_object()) {
    in = token_count(*usage, "prompt_tokens");
    out = token_count(*usage, "completion_tokens");
  }
  if (!in || !out) {
    result.status = ProviderResult::Status::kUsageMissing;
    return result;
  }
  result.reply.input_tokens = *in;
  result.reply.output_tokens = *out;
  result.status = ProviderResult::Status::kOk;
  return result;
}

ProviderErrorBody OpenAiAdapter::parse_error_body(std::string_view text) const {
  ProviderErrorBody out;
  const std::optional<json> err = detail::error_object(text);
  if (!err) return out;
  auto str = [&](const char* key) {
    auto it = err->find(key);
    if (it == err->end()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    return std::string();
  };
  out.type = str("type");
  out.code = str("code");
  out.message = str("message");
  out.parsed = true;
  return out;
}

bool OpenAiAdapter::out_of_credit(long status, const ProviderErrorBody& error) const {
  auto is = [&](std::string_view what) { return error.code == what || error.type == what; };
  if (status == 429 || status == 402 || status == 403) {
    return is("insufficient_quota") || is("billing_hard_limit_reached");
  }
  return false;
}

}  // namespace tollgate::workers
