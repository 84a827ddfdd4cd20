// What the real Anthropic Messages and OpenAI Chat Completions services
// accept and answer, as far as the fake provider mimics them: request
// checks with each service's exact error format, and reply bodies.
//
// Pure functions of their arguments; callable from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace tollgate::fake_provider {

// An answer other than success: HTTP status and the service's error body.
struct ApiError {
  int status = 400;
  nlohmann::json body;
};

// The parts of a valid request the fake needs to answer it.
struct ParsedCall {
  std::string model;
  uint64_t input_tokens = 1;            // ceil(bytes of all text / 4), at least 1
  uint64_t text_chars = 0;              // UTF-8 code points of all prompt text
  uint64_t messages = 0;
  std::optional<uint64_t> max_tokens;   // OpenAI may omit it
  std::string last_user_text;
};

using CheckResult = std::variant<ParsedCall, ApiError>;

// `required_key` empty: any non-empty key is accepted. count: the body of
// POST /v1/messages/count_tokens (no max_tokens).
CheckResult check_anthropic(const httplib::Request& req, const std::string& required_key,
                            bool count = false);
CheckResult check_openai(const httplib::Request& req, const std::string& required_key);

ApiError anthropic_error(int status, const std::string& type, const std::string& message);
ApiError openai_error(int status, const std::string& message, const std::string& type,
                      const std::optional<std::string>& param = std::nullopt,
                      const std::optional<std::string>& code = std::nullopt);

// The error each service sends for an HTTP status (fault scripts).
ApiError status_error(const std::string& api, int status);
// Anthropic: 400 credit balance too low; OpenAI: 429 insufficient_quota.
ApiError out_of_credit_error(const std::string& api);

struct ReplySpec {
  std::string id;
  std::string model;
  std::string text;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  bool with_usage = true;
  int64_t created_s = 0;  // OpenAI `created`
};

nlohmann::json anthropic_reply(const ReplySpec& spec);
nlohmann::json openai_reply(const ReplySpec& spec);

// JSON text that never throws (invalid UTF-8 is replaced).
std::string dump(const nlohmann::json& j);

}  // namespace tollgate::fake_provider
