// OpenAI Chat Completions API: request building and response parsing.
#include "workers/providers/openai_adapter.h"

#include "protocol/openai_format.h"

namespace tollgate::workers {

using detail::ProviderErrorBody;
using nlohmann::json;

HttpRequest OpenAiAdapter::build_request(const ProviderCall& call) const {
  HttpRequest req;
  req.method = "POST";
  req.url = detail::join_url(call.base_url, "/chat/completions");
  req.headers = {{"Authorization", "Bearer " + call.api_key},
                 {"content-type", "application/json"}};
  if (call.api_key.empty()) req.headers.erase(req.headers.begin());  // a keyless provider: no key header
  req.body = detail::dump_json(protocol::openai_request(to_chat_parts(call)));
  return req;
}

std::optional<std::string> OpenAiAdapter::unsupported(const ProviderCall& call,
                                                      bool url_images) const {
  return protocol::openai_unsupported(call.messages, url_images);
}

ProviderResult OpenAiAdapter::parse_success(const protocol::JsonValue& body) const {
  return detail::result_from(protocol::parse_openai_response(body));
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
