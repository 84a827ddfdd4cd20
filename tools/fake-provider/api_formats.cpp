#include "tools/fake-provider/api_formats.h"

#include <algorithm>

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;

uint64_t estimate_tokens(size_t bytes) { return std::max<uint64_t>(1, (bytes + 3) / 4); }

// UTF-8 code points: every byte that is not a continuation byte.
uint64_t code_points(const std::string& text) {
  uint64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// Adds one piece of prompt text to both measures of the call.
void add_text(ParsedCall& call, size_t& bytes, const std::string& text) {
  bytes += text.size();
  call.text_chars += code_points(text);
}

// Text of a string content or of an array of {type: "text", text} blocks;
// nullopt when it is neither.
std::optional<std::string> content_text(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const auto& block : content) {
    if (!block.is_object() || !block.contains("type") || !block["type"].is_string()) {
      return std::nullopt;
    }
    auto t = block.find("text");
    if (block["type"] == "text") {
      if (t == block.end() || !t->is_string()) return std::nullopt;
      text += t->get<std::string>();
    }
  }
  return text;
}

std::optional<json> parse_body(const httplib::Request& req) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

ApiError anthropic_invalid(const std::string& message) {
  return anthropic_error(400, "invalid_request_error", message);
}

std::optional<ApiError> check_anthropic_messages(const json& messages, ParsedCall& call,
                                                 size_t& bytes) {
  if (!messages.is_array()) return anthropic_invalid("messages: Input should be a valid list");
  if (messages.empty()) return anthropic_invalid("messages: at least one message is required");
  call.messages = messages.size();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    std::string at = "messages." + std::to_string(i);
    if (!m.is_object()) return anthropic_invalid(at + ": Input should be a valid dictionary");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string() || (*role != "user" && *role != "assistant")) {
      return anthropic_invalid(at + ".role: Input should be 'user' or 'assistant'");
    }
    auto content = m.find("content");
    std::optional<std::string> text;
    if (content != m.end()) text = content_text(*content);
    if (!text) return anthropic_invalid(at + ".content: Input should be a valid string or list");
    add_text(call, bytes, *text);
    if (*role == "user") call.last_user_text = *text;
  }
  return std::nullopt;
}

std::optional<ApiError> check_openai_messages(const json& messages, ParsedCall& call,
                                              size_t& bytes) {
  if (!messages.is_array()) {
    return openai_error(400, "Invalid type for 'messages': expected an array of objects.",
                        "invalid_request_error", "messages", "invalid_type");
  }
  if (messages.empty()) {
    return openai_error(400,
                        "Invalid 'messages': empty array. Expected an array with minimum "
                        "length 1, but got an empty array instead.",
                        "invalid_request_error", "messages", "empty_array");
  }
  call.messages = messages.size();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    auto role = m.is_object() ? m.find("role") : m.end();
    if (!m.is_object() || role == m.end() || !role->is_string() ||
        (*role != "system" && *role != "user" && *role != "assistant" && *role != "developer")) {
      return openai_error(400,
                          "Invalid value for '" + at +
                              ".role'. Supported values are: 'system', 'assistant', 'user' "
                              "and 'developer'.",
                          "invalid_request_error", at + ".role", "invalid_value");
    }
    auto content = m.find("content");
    std::optional<std::string> text;
    if (content != m.end()) text = content_text(*content);
    if (!text) {
      return openai_error(400, "Invalid type for '" + at + ".content': expected a string.",
                          "invalid_request_error", at + ".content", "invalid_type");
    }
    add_text(call, bytes, *text);
    if (*role == "user") call.last_user_text = *text;
  }
  return std::nullopt;
}

// count: the body of POST /v1/messages/count_tokens, which has no max_tokens.
std::optional<ApiError> check_anthropic_body(const json& body, ParsedCall& call, bool count) {
  auto model = body.find("model");
  if (model == body.end()) return anthropic_invalid("model: Field required");
  if (!model->is_string()) return anthropic_invalid("model: Input should be a valid string");
  call.model = model->get<std::string>();
  auto max_tokens = body.find("max_tokens");
  if (count) {
    if (max_tokens != body.end()) return anthropic_invalid("max_tokens: Extra inputs are not permitted");
  } else if (max_tokens == body.end()) {
    return anthropic_invalid("max_tokens: Field required");
  }
  if (max_tokens == body.end()) {
    // count_tokens: nothing more to check about the reply's length.
  } else if (!max_tokens->is_number_integer()) {
    return anthropic_invalid("max_tokens: Input should be a valid integer");
  } else if (max_tokens->get<int64_t>() < 1) {
    return anthropic_invalid("max_tokens: Input should be greater than or equal to 1");
  } else {
    call.max_tokens = max_tokens->get<uint64_t>();
  }
  if (auto t = body.find("temperature"); t != body.end()) {
    if (!t->is_number()) return anthropic_invalid("temperature: Input should be a valid number");
    if (t->get<double>() < 0) return anthropic_invalid("temperature: Input should be greater than or equal to 0");
    if (t->get<double>() > 1) return anthropic_invalid("temperature: Input should be less than or equal to 1");
  }
  size_t bytes = 0;
  if (auto s = body.find("system"); s != body.end()) {
    auto text = content_text(*s);
    if (!text) return anthropic_invalid("system: Input should be a valid string or list");
    add_text(call, bytes, *text);
  }
  auto messages = body.find("messages");
  if (messages == body.end()) return anthropic_invalid("messages: Field required");
  if (auto e = check_anthropic_messages(*messages, call, bytes)) return e;
  call.input_tokens = estimate_tokens(bytes);
  return std::nullopt;
}

std::optional<ApiError> check_openai_body(const json& body, ParsedCall& call) {
  auto model = body.find("model");
  if (model == body.end() || !model->is_string()) {
    return openai_error(400, "you must provide a model parameter", "invalid_request_error");
  }
  call.model = model->get<std::string>();
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto m = body.find(key);
    if (m == body.end() || m->is_null()) continue;
    if (!m->is_number_integer() || m->get<int64_t>() < 1) {
      return openai_error(400,
                          std::string("Invalid '") + key +
                              "': integer below minimum value. Expected a value >= 1.",
                          "invalid_request_error", key, "integer_below_min_value");
    }
    call.max_tokens = m->get<uint64_t>();
  }
  if (auto t = body.find("temperature"); t != body.end() && !t->is_null()) {
    if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 2) {
      return openai_error(400,
                          "Invalid 'temperature': decimal out of range. Expected a value "
                          "between 0 and 2.",
                          "invalid_request_error", "temperature", "decimal_above_max_value");
    }
  }
  auto messages = body.find("messages");
  if (messages == body.end()) {
    return openai_error(400, "Missing required parameter: 'messages'.", "invalid_request_error",
                        "messages", "missing_required_parameter");
  }
  size_t bytes = 0;
  if (auto e = check_openai_messages(*messages, call, bytes)) return e;
  call.input_tokens = estimate_tokens(bytes);
  return std::nullopt;
}

// "sk-abc...wxyz" as OpenAI masks keys in its errors.
std::string mask_key(const std::string& key) {
  if (key.size() <= 8) return "****";
  return key.substr(0, 3) + std::string(key.size() - 7, '*') + key.substr(key.size() - 4);
}

}  // namespace

std::string dump(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

ApiError anthropic_error(int status, const std::string& type, const std::string& message) {
  return {status, {{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}};
}

ApiError openai_error(int status, const std::string& message, const std::string& type,
                      const std::optional<std::string>& param,
                      const std::optional<std::string>& code) {
  json err = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (param) err["param"] = *param;
  if (code) err["code"] = *code;
  return {status, {{"error", err}}};
}

CheckResult check_anthropic(const httplib::Request& req, const std::string& required_key,
                            bool count) {
  std::string key = req.get_header_value("x-api-key");
  if (key.empty()) return anthropic_error(401, "authentication_error", "x-api-key header is required");
  if (!required_key.empty() && key != required_key) {
    return anthropic_error(401, "authentication_error", "invalid x-api-key");
  }
  if (req.get_header_value("anthropic-version").empty()) {
    return anthropic_invalid("anthropic-version: header is required");
  }
  auto body = parse_body(req);
  if (!body) return anthropic_invalid("There was an error parsing the body of your request: invalid JSON");
  ParsedCall call;
  if (auto e = check_anthropic_body(*body, call, count)) return *e;
  return call;
}

CheckResult check_openai(const httplib::Request& req, const std::string& required_key) {
  std::string auth = req.get_header_value("Authorization");
  const std::string bearer = "Bearer ";
  if (auth.rfind(bearer, 0) != 0 || auth.size() == bearer.size()) {
    return openai_error(401,
                        "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                        "YOUR_KEY), or as the password field (with blank username) if you're "
                        "accessing the API from your browser and are prompted for a username "
                        "and password. You can obtain an API key from "
                        "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error");
  }
  std::string key = auth.substr(bearer.size());
  if (!required_key.empty() && key != required_key) {
    return openai_error(401,
                        "Incorrect API key provided: " + mask_key(key) +
                            ". You can find your API key at "
                            "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error", std::nullopt, "invalid_api_key");
  }
  auto body = parse_body(req);
  if (!body) {
    return openai_error(400,
                        "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly. The OpenAI API "
                        "expects a JSON payload, but what was sent was not valid JSON.",
                        "invalid_request_error");
  }
  ParsedCall call;
  if (auto e = check_openai_body(*body, call)) return *e;
  return call;
}

ApiError status_error(const std::string& api, int status) {
  if (api == "anthropic") {
    switch (status) {
      case 400: return anthropic_error(status, "invalid_request_error", "Invalid request");
      case 401: return anthropic_error(status, "authentication_error", "invalid x-api-key");
      case 403: return anthropic_error(status, "permission_error", "Your API key does not have permission to use the specified resource.");
      case 404: return anthropic_error(status, "not_found_error", "The requested resource could not be found.");
      case 413: return anthropic_error(status, "request_too_large", "Request exceeds the maximum allowed number of bytes.");
      case 429: return anthropic_error(status, "rate_limit_error", "Number of requests has exceeded your per-minute rate limit.");
      case 529: return anthropic_error(status, "overloaded_error", "Overloaded");
      default: return anthropic_error(status, "api_error", "Internal server error");
    }
  }
  switch (status) {
    case 400: return openai_error(status, "Invalid request", "invalid_request_error");
    case 401: return openai_error(status, "Incorrect API key provided.", "invalid_request_error", std::nullopt, "invalid_api_key");
    case 403: return openai_error(status, "Country, region, or territory not supported", "request_forbidden", std::nullopt, "unsupported_country_region_territory");
    case 404: return openai_error(status, "The model does not exist or you do not have access to it.", "invalid_request_error", std::nullopt, "model_not_found");
    case 429: return openai_error(status, "Rate limit reached for requests. Please try again later.", "requests", std::nullopt, "rate_limit_exceeded");
    case 503: return openai_error(status, "The engine is currently overloaded, please try again later.", "server_error");
    default: return openai_error(status, "The server had an error while processing your request. Sorry about that!", "server_error");
  }
}

ApiError out_of_credit_error(const std::string& api) {
  if (api == "anthropic") {
    return anthropic_error(400, "invalid_request_error",
                           "Your credit balance is too low to access the Anthropic API. Please "
                           "go to Plans & Billing to upgrade or purchase credits.");
  }
  return openai_error(429,
                      "You exceeded your current quota, please check your plan and billing "
                      "details.",
                      "insufficient_quota", std::nullopt, "insufficient_quota");
}

json anthropic_reply(const ReplySpec& s) {
  json j = {{"id", s.id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", s.model},
            {"content", json::array({{{"type", "text"}, {"text", s.text}}})},
            {"stop_reason", "end_turn"},
            {"stop_sequence", nullptr}};
  if (s.with_usage) {
    j["usage"] = {{"input_tokens", s.input_tokens},
                  {"output_tokens", s.output_tokens},
                  {"cache_creation_input_tokens", 0},
                  {"cache_read_input_tokens", 0}};
  }
  return j;
}

json openai_reply(const ReplySpec& s) {
  json j = {{"id", s.id},
            {"object", "chat.completion"},
            {"created", s.created_s},
            {"model", s.model},
            {"choices", json::array({{{"index", 0},
                                      {"message", {{"role", "assistant"}, {"content", s.text}}},
                                      {"finish_reason", "stop"}}})}};
  if (s.with_usage) {
    j["usage"] = {{"prompt_tokens", s.input_tokens},
                  {"completion_tokens", s.output_tokens},
                  {"total_tokens", s.input_tokens + s.output_tokens}};
  }
  return j;
}

}  // namespace tollgate::fake_provider
