// OpenAI adapter: request building and response parsing (pure).
#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/provider_test_util.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

const OpenAiAdapter kAdapter;

ProviderCall sample_call() {
  ProviderCall call;
  call.api_key = "sk-proj-abcdefghijklmnop";
  call.base_url = "https://api.openai.com/v1";
  call.model = "gpt-4.1";
  call.system = "Be brief";
  call.messages = {{"user", "Hello"}};
  call.max_tokens = 100;
  call.temperature = 0.7;
  return call;
}

ProviderResult parse(long status, const std::string& body, HttpHeaders headers = {}) {
  return kAdapter.parse_response(status, headers, body, kNow, "sk-proj-abcdefghijklmnop");
}

std::string error_body(const std::string& message, const std::string& type,
                       const std::string& code) {
  return R"({"error":{"message":")" + message + R"(","type":")" + type +
         R"(","param":null,"code":)" + (code.empty() ? "null" : "\"" + code + "\"") + "}}";
}

}  // namespace

TEST_CASE("an openai request has the exact golden body with the system message first") {
  HttpRequest req = kAdapter.build_request(sample_call());
  CHECK(req.method == "POST");
  CHECK(req.body ==
        R"({"max_tokens":100,"messages":[{"content":"Be brief","role":"system"},)"
        R"({"content":"Hello","role":"user"}],"model":"gpt-4.1","temperature":0.7})");
}

TEST_CASE("an openai request without a system prompt sends only the messages") {
  ProviderCall call = sample_call();
  call.system.reset();
  call.messages = {{"user", "a"}, {"assistant", "b"}, {"user", "c"}};
  CHECK(kAdapter.build_request(call).body ==
        R"({"max_tokens":100,"messages":[{"content":"a","role":"user"},)"
        R"({"content":"b","role":"assistant"},{"content":"c","role":"user"}],)"
        R"("model":"gpt-4.1","temperature":0.7})");
}

TEST_CASE("an openai request keeps temperatures up to two") {
  ProviderCall call = sample_call();
  call.temperature = 1.5;
  CHECK(kAdapter.build_request(call).body.find(R"("temperature":1.5)") != std::string::npos);
  call.temperature = 3.0;
  CHECK(kAdapter.build_request(call).body.find(R"("temperature":2.0)") != std::string::npos);
}

TEST_CASE("an openai request has the bearer header") {
  HttpRequest req = kAdapter.build_request(sample_call());
  CHECK(header_value(req, "Authorization") == "Bearer sk-proj-abcdefghijklmnop");
  CHECK(header_value(req, "content-type") == "application/json");
  CHECK(header_value(req, "x-api-key") == "<absent>");
}

TEST_CASE("an openai request goes to chat completions under the base url") {
  ProviderCall call = sample_call();
  CHECK(kAdapter.build_request(call).url == "https://api.openai.com/v1/chat/completions");
  call.base_url = "http://127.0.0.1:9000/v1/";
  CHECK(kAdapter.build_request(call).url == "http://127.0.0.1:9000/v1/chat/completions");
  call.base_url = "http://127.0.0.1:9000";
  CHECK(kAdapter.build_request(call).url == "http://127.0.0.1:9000/chat/completions");
}

TEST_CASE("an openai request body stays valid json with invalid utf8 in the prompt") {
  ProviderCall call = sample_call();
  call.messages = {{"user", std::string("bad \xff byte")}};
  HttpRequest req = kAdapter.build_request(call);
  CHECK(req.body.find("bad \xEF\xBF\xBD byte") != std::string::npos);
}

TEST_CASE("an openai success reports the first choice text and usage") {
  auto r = parse(200, R"({"id":"chatcmpl-1","object":"chat.completion","created":1,
    "model":"gpt-4.1-2025-04-14",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"},
               {"index":1,"message":{"role":"assistant","content":"other"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})");
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.text == "Hi there");
  CHECK(r.reply.model == "gpt-4.1-2025-04-14");
  CHECK(r.reply.input_tokens == 9);
  CHECK(r.reply.output_tokens == 2);
}

TEST_CASE("an openai null content is an empty text") {
  auto r = parse(200, R"({"model":"m","choices":[{"message":{"role":"assistant","content":null}}],
    "usage":{"prompt_tokens":1,"completion_tokens":0}})");
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.text.empty());
}

TEST_CASE("an openai success without usage is a usage missing outcome") {
  auto r = parse(200, R"({"model":"m","choices":[{"message":{"content":"x"}}]})");
  CHECK(r.status == ProviderResult::Status::kUsageMissing);
  CHECK(r.reply.text == "x");
  auto partial = parse(200, R"({"model":"m","choices":[{"message":{"content":"x"}}],
    "usage":{"prompt_tokens":3}})");
  CHECK(partial.status == ProviderResult::Status::kUsageMissing);
}

TEST_CASE("an openai token count too large to be real is an invalid response") {
  auto r = parse(200, R"({"model":"m","choices":[{"message":{"content":"x"}}],
    "usage":{"prompt_tokens":3,"completion_tokens":1099511627777}})");
  REQUIRE(r.status == ProviderResult::Status::kFailed);
  CHECK(r.failure.kind == FailureKind::kInvalidResponse);
  CHECK(r.failure.message.find("usage.completion_tokens is implausibly large") != std::string::npos);
}

TEST_CASE("an openai body that is not json or has no choices is an invalid response") {
  CHECK(parse(200, "not json").failure.kind == FailureKind::kInvalidResponse);
  CHECK(parse(200, R"({"choices":[]})").failure.kind == FailureKind::kInvalidResponse);
  CHECK(parse(200, R"({"choices":[{"message":{"content":5}}]})").failure.kind ==
        FailureKind::kInvalidResponse);
  CHECK(parse(200, "").failure.kind == FailureKind::kInvalidResponse);
}

TEST_CASE("openai 429 insufficient quota is out of credit and not retryable") {
  auto r = parse(429, error_body("You exceeded your current quota", "insufficient_quota",
                                 "insufficient_quota"));
  CHECK(r.failure.kind == FailureKind::kOutOfCredit);
  CHECK_FALSE(r.failure.retryable);
  CHECK(r.failure.message ==
        "openai HTTP 429 insufficient_quota: You exceeded your current quota");
}

TEST_CASE("openai 429 rate limit is retryable with the retry after hint") {
  auto r = parse(429, error_body("Rate limit reached for requests", "requests",
                                 "rate_limit_exceeded"),
                 {{"retry-after", "2"}});
  CHECK(r.failure.kind == FailureKind::kRateLimited);
  CHECK(r.failure.retryable);
  CHECK(r.failure.retry_after_ms == 2000);
}

TEST_CASE("openai rate limit reset durations are a retry hint") {
  auto r = parse(429, error_body("Rate limit reached", "tokens", "rate_limit_exceeded"),
                 {{"x-ratelimit-reset-requests", "1m2.5s"}, {"x-ratelimit-reset-tokens", "20ms"}});
  CHECK(r.failure.retry_after_ms == 62500);
}

TEST_CASE("openai 401 is an auth failure without the key in the message") {
  auto r = parse(401, error_body("Incorrect API key provided: sk-proj-abcdefghijklmnop.",
                                 "invalid_request_error", "invalid_api_key"));
  CHECK(r.failure.kind == FailureKind::kAuth);
  CHECK_FALSE(r.failure.retryable);
  CHECK(r.failure.message.find("abcdefghijklmnop") == std::string::npos);
}

TEST_CASE("openai masked keys in messages are redacted too") {
  auto r = parse(401, error_body("Incorrect API key provided: sk-other*******************wxyz.",
                                 "invalid_request_error", "invalid_api_key"));
  CHECK(r.failure.message.find("wxyz") == std::string::npos);
}

TEST_CASE("openai 400 is a bad request") {
  auto r = parse(400, error_body("you must provide a model parameter", "invalid_request_error", ""));
  CHECK(r.failure.kind == FailureKind::kBadRequest);
  CHECK_FALSE(r.failure.retryable);
  CHECK(r.failure.message ==
        "openai HTTP 400 invalid_request_error: you must provide a model parameter");
}

TEST_CASE("openai 503 is a retryable server error") {
  auto r = parse(503, error_body("The engine is currently overloaded", "server_error", ""));
  CHECK(r.failure.kind == FailureKind::kServer);
  CHECK(r.failure.retryable);
}

TEST_CASE("an openai error message is cut to one short line") {
  std::string long_text(1000, 'x');
  auto r = parse(500, error_body(long_text + "\\nsecond line", "server_error", ""));
  CHECK(r.failure.message.size() < 320);
  CHECK(r.failure.message.find('\n') == std::string::npos);
}
