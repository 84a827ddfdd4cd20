// Anthropic adapter: request building and response parsing (pure).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/provider_test_util.h"
#include "workers/providers/adapter_registry.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

const AnthropicAdapter kAdapter;

ProviderCall sample_call() {
  ProviderCall call;
  call.api_key = "sk-ant-test-key-0123456789";
  call.base_url = "https://api.anthropic.com";
  call.model = "claude-sonnet-4";
  call.messages = {{"user", "Hello"}, {"assistant", "Hi"}, {"user", "Sum 2+2"}};
  call.max_tokens = 256;
  call.temperature = 0.5;
  return call;
}

ProviderResult parse(long status, const std::string& body, HttpHeaders headers = {}) {
  return kAdapter.parse_response(status, headers, body, kNow, "sk-ant-test-key-0123456789");
}

std::string error_body(const std::string& type, const std::string& message) {
  return R"({"type":"error","error":{"type":")" + type + R"(","message":")" + message + R"("}})";
}

}  // namespace

TEST_CASE("an anthropic request has the exact golden body") {
  HttpRequest req = kAdapter.build_request(sample_call());
  CHECK(req.method == "POST");
  CHECK(req.body ==
        R"({"max_tokens":256,"messages":[{"content":"Hello","role":"user"},)"
        R"({"content":"Hi","role":"assistant"},{"content":"Sum 2+2","role":"user"}],)"
        R"("model":"claude-sonnet-4","temperature":0.5})");
}

TEST_CASE("an anthropic request carries the system prompt only when set") {
  ProviderCall call = sample_call();
  call.messages = {{"user", "x"}};
  call.system = "Be brief";
  CHECK(kAdapter.build_request(call).body ==
        R"({"max_tokens":256,"messages":[{"content":"x","role":"user"}],)"
        R"("model":"claude-sonnet-4","system":"Be brief","temperature":0.5})");
}

TEST_CASE("an anthropic request clamps the temperature to one") {
  ProviderCall call = sample_call();
  call.temperature = 1.7;
  CHECK(kAdapter.build_request(call).body.find(R"("temperature":1.0)") != std::string::npos);
}

TEST_CASE("an anthropic request has the api key and version headers") {
  HttpRequest req = kAdapter.build_request(sample_call());
  CHECK(header_value(req, "x-api-key") == "sk-ant-test-key-0123456789");
  CHECK(header_value(req, "anthropic-version") == "2023-06-01");
  CHECK(header_value(req, "content-type") == "application/json");
  CHECK(header_value(req, "Authorization") == "<absent>");
}

TEST_CASE("an anthropic request goes to v1 messages with or without a trailing slash") {
  ProviderCall call = sample_call();
  CHECK(kAdapter.build_request(call).url == "https://api.anthropic.com/v1/messages");
  call.base_url = "http://127.0.0.1:8080/";
  CHECK(kAdapter.build_request(call).url == "http://127.0.0.1:8080/v1/messages");
}

TEST_CASE("an anthropic success concatenates the text blocks and reports usage") {
  auto r = parse(200, R"({"id":"msg_1","type":"message","role":"assistant",
    "model":"claude-sonnet-4-20250514",
    "content":[{"type":"text","text":"Four"},{"type":"tool_use","id":"t","name":"n","input":{}},
               {"type":"text","text":" indeed"}],
    "stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":12,"output_tokens":3}})");
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.text == "Four indeed");
  CHECK(r.reply.model == "claude-sonnet-4-20250514");
  CHECK(r.reply.input_tokens == 12);
  CHECK(r.reply.output_tokens == 3);
}

TEST_CASE("anthropic cache tokens count as input tokens") {
  auto r = parse(200, R"({"model":"m","content":[{"type":"text","text":"x"}],
    "usage":{"input_tokens":10,"output_tokens":5,
             "cache_creation_input_tokens":100,"cache_read_input_tokens":1000}})");
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.input_tokens == 1110);
  CHECK(r.reply.output_tokens == 5);
}

TEST_CASE("anthropic null cache tokens count as zero") {
  auto r = parse(200, R"({"model":"m","content":[],
    "usage":{"input_tokens":7,"output_tokens":1,"cache_creation_input_tokens":null}})");
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.input_tokens == 7);
  CHECK(r.reply.text.empty());
}

TEST_CASE("an anthropic success without usage is a usage missing outcome") {
  auto r = parse(200, R"({"model":"m","content":[{"type":"text","text":"hi"}]})");
  CHECK(r.status == ProviderResult::Status::kUsageMissing);
  CHECK(r.ok());
  CHECK(r.reply.text == "hi");
  CHECK(r.reply.input_tokens == 0);
}

TEST_CASE("an anthropic body that is not json is an invalid response") {
  auto r = parse(200, R"({"model":"m","content":[{"type":"text","te)");
  REQUIRE(r.status == ProviderResult::Status::kFailed);
  CHECK(r.failure.kind == FailureKind::kInvalidResponse);
  CHECK_FALSE(r.failure.retryable);
}

TEST_CASE("an anthropic body of the wrong shape is an invalid response") {
  CHECK(parse(200, R"({"model":"m"})").failure.kind == FailureKind::kInvalidResponse);
  CHECK(parse(200, R"({"content":"text"})").failure.kind == FailureKind::kInvalidResponse);
  CHECK(parse(200, R"([1,2])").failure.kind == FailureKind::kInvalidResponse);
  CHECK(parse(200, R"({"content":[],"usage":{"input_tokens":-1,"output_tokens":1}})")
            .failure.kind == FailureKind::kInvalidResponse);
}

TEST_CASE("an anthropic token count too large to be real is an invalid response") {
  // Three counts near 2^64 would wrap around when added: never charged.
  const std::string huge = "18446744073709551615";
  auto r = parse(200, R"({"content":[],"usage":{"input_tokens":)" + huge +
                          R"(,"cache_read_input_tokens":)" + huge + R"(,"output_tokens":1}})");
  REQUIRE(r.status == ProviderResult::Status::kFailed);
  CHECK(r.failure.kind == FailureKind::kInvalidResponse);
  CHECK(r.failure.message.find("implausibly large") != std::string::npos);
  auto at_cap = parse(200, R"({"content":[],"usage":{"input_tokens":1099511627776,"output_tokens":1}})");
  CHECK(at_cap.status == ProviderResult::Status::kOk);
  CHECK(at_cap.reply.input_tokens == 1099511627776u);
}

TEST_CASE("anthropic 529 is a retryable overload with the provider message") {
  auto r = parse(529, error_body("overloaded_error", "Overloaded"));
  REQUIRE(r.status == ProviderResult::Status::kFailed);
  CHECK(r.failure.kind == FailureKind::kOverloaded);
  CHECK(r.failure.retryable);
  CHECK(r.failure.http_status == 529);
  CHECK(r.failure.message == "anthropic HTTP 529 overloaded_error: Overloaded");
}

TEST_CASE("anthropic 429 is a retryable rate limit honouring retry after seconds") {
  auto r = parse(429, error_body("rate_limit_error", "Number of requests has exceeded"),
                 {{"retry-after", "7"}});
  CHECK(r.failure.kind == FailureKind::kRateLimited);
  CHECK(r.failure.retryable);
  REQUIRE(r.failure.retry_after_ms.has_value());
  CHECK(*r.failure.retry_after_ms == 7000);
}

TEST_CASE("anthropic server errors map to retryable and non retryable kinds") {
  for (long status : {500L, 502L, 503L, 504L}) {
    auto r = parse(status, error_body("api_error", "Internal server error"));
    CHECK(r.failure.kind == FailureKind::kServer);
    CHECK(r.failure.retryable);
  }
  auto r = parse(501, error_body("api_error", "nope"));
  CHECK(r.failure.kind == FailureKind::kServer);
  CHECK_FALSE(r.failure.retryable);
}

TEST_CASE("anthropic 401 and 403 are auth failures that do not retry") {
  auto r = parse(401, error_body("authentication_error", "invalid x-api-key"));
  CHECK(r.failure.kind == FailureKind::kAuth);
  CHECK_FALSE(r.failure.retryable);
  CHECK(parse(403, error_body("permission_error", "Your API key does not have permission"))
            .failure.kind == FailureKind::kAuth);
}

TEST_CASE("anthropic 400 is a bad request that does not retry") {
  auto r = parse(400, error_body("invalid_request_error", "max_tokens: Field required"));
  CHECK(r.failure.kind == FailureKind::kBadRequest);
  CHECK_FALSE(r.failure.retryable);
  CHECK(r.failure.message == "anthropic HTTP 400 invalid_request_error: max_tokens: Field required");
}

TEST_CASE("anthropic credit balance too low is out of credit") {
  auto r = parse(400, error_body("invalid_request_error",
                                 "Your credit balance is too low to access the Anthropic API."));
  CHECK(r.failure.kind == FailureKind::kOutOfCredit);
  CHECK_FALSE(r.failure.retryable);
}

TEST_CASE("anthropic usage limit reached is out of credit") {
  auto r = parse(400, error_body("invalid_request_error",
                                 "You have reached your specified API usage limits."));
  CHECK(r.failure.kind == FailureKind::kOutOfCredit);
}

TEST_CASE("anthropic permission error about billing is out of credit") {
  auto r = parse(403, error_body("permission_error", "Please check your billing details"));
  CHECK(r.failure.kind == FailureKind::kOutOfCredit);
  CHECK_FALSE(r.failure.retryable);
}

TEST_CASE("an anthropic error body that is not json keeps a one line snippet") {
  auto r = parse(502, "<html>\n<body>Bad gateway</body>\n</html>");
  CHECK(r.failure.kind == FailureKind::kServer);
  CHECK(r.failure.retryable);
  CHECK(r.failure.message == "anthropic HTTP 502: <html> <body>Bad gateway</body> </html>");
}

TEST_CASE("an anthropic error message never contains the api key") {
  auto r = parse(401, error_body("authentication_error",
                                 "invalid x-api-key sk-ant-test-key-0123456789 given"));
  CHECK(r.failure.message.find("0123456789") == std::string::npos);
  CHECK(r.failure.message.find("[redacted]") != std::string::npos);
}

TEST_CASE("retry after as an http date is relative to now") {
  HttpHeaders h = {{"retry-after", "Sat, 01 Jun 2024 12:00:30 GMT"}};
  CHECK(parse_retry_after(h, kNow) == 30000);
  h = {{"retry-after", "Sat, 01 Jun 2024 11:59:00 GMT"}};
  CHECK(parse_retry_after(h, kNow) == 0);
}

TEST_CASE("retry after ms wins over retry after") {
  HttpHeaders h = {{"retry-after", "9"}, {"retry-after-ms", "1500.2"}};
  CHECK(parse_retry_after(h, kNow) == 1501);
}

TEST_CASE("an unreadable retry after gives no hint") {
  CHECK_FALSE(parse_retry_after({{"retry-after", "soon"}}, kNow).has_value());
  CHECK_FALSE(parse_retry_after({{"retry-after", "-5"}}, kNow).has_value());
  CHECK_FALSE(parse_retry_after({}, kNow).has_value());
}

TEST_CASE("anthropic rate limit reset headers give the longest wait") {
  HttpHeaders h = {{"anthropic-ratelimit-requests-reset", "2024-06-01T12:00:05Z"},
                   {"anthropic-ratelimit-tokens-reset", "2024-06-01T14:00:20+02:00"}};
  CHECK(parse_retry_after(h, kNow) == 20000);
}

TEST_CASE("a transport error is retryable and a timeout has its own kind") {
  HttpResponse refused;
  refused.error = "Failed to connect to 127.0.0.1 port 1: Connection refused";
  auto r = kAdapter.interpret_response(refused, kNow);
  CHECK(r.failure.kind == FailureKind::kTransport);
  CHECK(r.failure.retryable);
  CHECK(r.failure.message == "anthropic transport: " + refused.error);

  HttpResponse slow;
  slow.error = "Operation timed out";
  slow.timed_out = true;
  auto t = kAdapter.interpret_response(slow, kNow);
  CHECK(t.failure.kind == FailureKind::kTimeout);
  CHECK(t.failure.retryable);
}

TEST_CASE("api and kind names round trip") {
  const AdapterRegistry& adapters = AdapterRegistry::builtin();
  CHECK(adapters.names() == std::vector<std::string>{"anthropic", "openai"});
  for (const auto& name : adapters.names()) {
    REQUIRE(adapters.find(name) != nullptr);
    CHECK(adapters.find(name)->name() == name);
  }
  CHECK(adapters.find("gemini") == nullptr);
  CHECK(kind_name(FailureKind::kOutOfCredit) == "out_of_credit");
  CHECK(kind_name(FailureKind::kInvalidResponse) == "invalid_response");
}

TEST_CASE("an anthropic count request carries the model system and messages but no max_tokens") {
  ProviderCall call = sample_call();
  call.system = "Be brief";
  auto req = kAdapter.build_count_request(call);
  REQUIRE(req);
  CHECK(req->url == "https://api.anthropic.com/v1/messages/count_tokens");
  CHECK(req->body ==
        R"({"messages":[{"content":"Hello","role":"user"},{"content":"Hi","role":"assistant"},)"
        R"({"content":"Sum 2+2","role":"user"}],"model":"claude-sonnet-4","system":"Be brief"})");
  CHECK_FALSE(OpenAiAdapter().build_count_request(call));
}

TEST_CASE("a count answer gives its input tokens only when it is a 200 with a count") {
  HttpResponse ok;
  ok.status = 200;
  ok.body = R"({"input_tokens": 1234})";
  CHECK(kAdapter.parse_count_response(ok) == 1234u);
  HttpResponse no_count = ok;
  no_count.body = R"({"tokens": 1})";
  CHECK_FALSE(kAdapter.parse_count_response(no_count));
  HttpResponse negative = ok;
  negative.body = R"({"input_tokens": -5})";
  CHECK_FALSE(kAdapter.parse_count_response(negative));
  HttpResponse error = ok;
  error.status = 429;
  CHECK_FALSE(kAdapter.parse_count_response(error));
  HttpResponse cut = ok;
  cut.error = "connection reset";
  CHECK_FALSE(kAdapter.parse_count_response(cut));
}
