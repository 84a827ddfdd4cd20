// The fake-provider binary: exact API formats, validation, stats, faults.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/fake_provider_client.h"

using nlohmann::json;
using tollgate::testing::anthropic_headers;
using tollgate::testing::FakeProviderProcess;
using tollgate::testing::openai_headers;
using tollgate::testing::post;
using tollgate::testing::stats;

namespace {

const json kAnthropicCall = {
    {"model", "claude-test"},
    {"max_tokens", 7},
    {"system", "Be brief"},
    {"messages", json::array({{{"role", "user"}, {"content", "What is two plus two"}}})}};

const json kOpenAiCall = {
    {"model", "gpt-test"},
    {"max_tokens", 100},
    {"temperature", 1.5},
    {"messages", json::array({{{"role", "system"}, {"content", "Be brief"}},
                              {{"role", "user"}, {"content", "Hello there"}}})}};

}  // namespace

TEST_CASE("the fake answers an anthropic call in the exact messages format") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto r = post(c, "/v1/messages", anthropic_headers(), kAnthropicCall);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json j = json::parse(r->body);
  CHECK(j["type"] == "message");
  CHECK(j["role"] == "assistant");
  CHECK(j["model"] == "claude-test");
  CHECK(j["id"].get<std::string>().rfind("msg_", 0) == 0);
  CHECK(j["content"] == json::array({{{"type", "text"}, {"text", "echo: What is two plus two"}}}));
  CHECK(j["stop_reason"] == "end_turn");
  CHECK(j["stop_sequence"].is_null());
  // ("Be brief" + "What is two plus two") = 28 bytes -> 7 tokens; output capped by max_tokens.
  CHECK(j["usage"] == json{{"input_tokens", 7},
                           {"output_tokens", 7},
                           {"cache_creation_input_tokens", 0},
                           {"cache_read_input_tokens", 0}});
}

TEST_CASE("the fake answers an openai call with and without the v1 prefix") {
  FakeProviderProcess fake({"--output-tokens", "12"});
  httplib::Client c("127.0.0.1", fake.port());
  for (const char* path : {"/v1/chat/completions", "/chat/completions"}) {
    auto r = post(c, path, openai_headers(), kOpenAiCall);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    json j = json::parse(r->body);
    CHECK(j["object"] == "chat.completion");
    CHECK(j["model"] == "gpt-test");
    CHECK(j["created"].is_number_integer());
    CHECK(j["choices"] == json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", "echo: Hello there"}}},
                                        {"finish_reason", "stop"}}}));
    // "Be brief" + "Hello there" = 19 bytes -> 5 tokens.
    CHECK(j["usage"] == json{{"prompt_tokens", 5}, {"completion_tokens", 12}, {"total_tokens", 17}});
  }
}

TEST_CASE("a missing anthropic api key gets 401 in the anthropic error format") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto r = post(c, "/v1/messages", {{"anthropic-version", "2023-06-01"}}, kAnthropicCall);
  REQUIRE(r);
  CHECK(r->status == 401);
  json j = json::parse(r->body);
  CHECK(j["type"] == "error");
  CHECK(j["error"]["type"] == "authentication_error");
  CHECK(j["error"]["message"].is_string());
}

TEST_CASE("anthropic requests with bad fields get 400 invalid request errors") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto no_version = post(c, "/v1/messages", {{"x-api-key", "k"}}, kAnthropicCall);
  REQUIRE(no_version);
  CHECK(no_version->status == 400);

  json bad = kAnthropicCall;
  bad.erase("max_tokens");
  json hot = kAnthropicCall;
  hot["temperature"] = 1.5;
  json empty = kAnthropicCall;
  empty["messages"] = json::array();
  json role = kAnthropicCall;
  role["messages"][0]["role"] = "system";
  for (const json& body : {bad, hot, empty, role}) {
    auto r = post(c, "/v1/messages", anthropic_headers(), body);
    REQUIRE(r);
    CHECK(r->status == 400);
    json j = json::parse(r->body);
    CHECK(j["error"]["type"] == "invalid_request_error");
  }
  CHECK(stats(c)["anthropic"]["errors"] == 5);
}

TEST_CASE("openai requests without a bearer key or model get errors in the openai format") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto unauth = post(c, "/v1/chat/completions", {}, kOpenAiCall);
  REQUIRE(unauth);
  CHECK(unauth->status == 401);
  json e = json::parse(unauth->body)["error"];
  CHECK(e["type"] == "invalid_request_error");
  CHECK(e.contains("param"));
  CHECK(e.contains("code"));

  json no_model = kOpenAiCall;
  no_model.erase("model");
  auto r = post(c, "/v1/chat/completions", openai_headers(), no_model);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(json::parse(r->body)["error"]["message"] == "you must provide a model parameter");
}

TEST_CASE("a configured api key rejects other keys") {
  FakeProviderProcess fake({"--api-key", "sk-right-key-123456"});
  httplib::Client c("127.0.0.1", fake.port());
  auto wrong = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(json::parse(wrong->body)["error"]["code"] == "invalid_api_key");
  auto right = post(c, "/chat/completions", {{"Authorization", "Bearer sk-right-key-123456"}},
                    kOpenAiCall);
  REQUIRE(right);
  CHECK(right->status == 200);
}

TEST_CASE("stats count the tokens served per api and reset to zero") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  for (int i = 0; i < 3; ++i) REQUIRE(post(c, "/v1/messages", anthropic_headers(), kAnthropicCall));
  REQUIRE(post(c, "/chat/completions", openai_headers(), kOpenAiCall));
  json s = stats(c);
  const json no_streams = {{"streams", 0},
                           {"streams_cut", 0},
                           {"streams_client_closed", 0},
                           {"stream_input_tokens", 0},
                           {"stream_output_tokens_sent", 0}};
  json anthropic = {{"requests", 3}, {"count_requests", 0}, {"input_tokens", 21},
                    {"output_tokens", 21}, {"errors", 0}};
  json openai = {{"requests", 1}, {"count_requests", 0}, {"input_tokens", 5},
                 {"output_tokens", 20}, {"errors", 0}};
  anthropic.update(no_streams);
  openai.update(no_streams);
  CHECK(s["anthropic"] == anthropic);
  CHECK(s["openai"] == openai);
  REQUIRE(c.Post("/_control/reset"));
  CHECK(stats(c)["anthropic"]["requests"] == 0);
}

TEST_CASE("a command line fault fires the given number of times then stops") {
  FakeProviderProcess fake({"--fault", "anthropic:status=529:times=2"});
  httplib::Client c("127.0.0.1", fake.port());
  std::vector<int> statuses;
  for (int i = 0; i < 3; ++i) {
    auto r = post(c, "/v1/messages", anthropic_headers(), kAnthropicCall);
    REQUIRE(r);
    statuses.push_back(r->status);
    if (r->status == 529) CHECK(json::parse(r->body)["error"]["type"] == "overloaded_error");
  }
  CHECK(statuses == std::vector<int>{529, 529, 200});
  // The fault is per api: openai was never affected.
  auto o = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(o);
  CHECK(o->status == 200);
  CHECK(stats(c)["anthropic"]["errors"] == 2);
}

TEST_CASE("a fault with every fires on each nth request only") {
  FakeProviderProcess fake({"--fault", "anthropic:status=500:every=3:times=2"});
  httplib::Client c("127.0.0.1", fake.port());
  std::vector<int> statuses;
  for (int i = 0; i < 9; ++i) {
    auto r = post(c, "/v1/messages", anthropic_headers(), kAnthropicCall);
    REQUIRE(r);
    statuses.push_back(r->status);
  }
  CHECK(statuses == std::vector<int>{200, 200, 500, 200, 200, 500, 200, 200, 200});
}

TEST_CASE("faults set through the control endpoint replace the script") {
  FakeProviderProcess fake({"--fault", "openai:status=500"});
  httplib::Client c("127.0.0.1", fake.port());
  json script = json::array({{{"api", "openai"}, {"status", 429}, {"retry_after", 2}, {"times", 1}},
                             "openai:insufficient_quota:times=1",
                             "openai:no_usage:times=1"});
  auto set = c.Post("/_control/faults", script.dump(), "application/json");
  REQUIRE(set);
  REQUIRE(set->status == 200);

  auto limited = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(limited->get_header_value("retry-after") == "2");
  CHECK(json::parse(limited->body)["error"]["code"] == "rate_limit_exceeded");

  auto quota = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(quota);
  CHECK(quota->status == 429);
  CHECK(json::parse(quota->body)["error"]["code"] == "insufficient_quota");

  auto no_usage = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(no_usage);
  CHECK(no_usage->status == 200);
  CHECK_FALSE(json::parse(no_usage->body).contains("usage"));

  auto normal = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(normal);
  CHECK(normal->status == 200);
  CHECK(json::parse(normal->body).contains("usage"));

  REQUIRE(c.Post("/_control/faults", R"(["openai:status=503"])", "application/json"));
  REQUIRE(c.Delete("/_control/faults"));
  auto cleared = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(cleared);
  CHECK(cleared->status == 200);
}

TEST_CASE("a malformed fault script is refused") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  auto r = c.Post("/_control/faults", R"(["gemini:status=500"])", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  auto health = c.Get("/_control/health");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("anthropic out of credit and invalid json faults answer as scripted") {
  FakeProviderProcess fake({"--fault", "anthropic:insufficient_quota:times=1",
                            "--fault", "anthropic:invalid_json:times=1"});
  httplib::Client c("127.0.0.1", fake.port());
  auto credit = post(c, "/v1/messages", anthropic_headers(), kAnthropicCall);
  REQUIRE(credit);
  CHECK(credit->status == 400);
  CHECK(json::parse(credit->body)["error"]["message"].get<std::string>().find("credit balance") !=
        std::string::npos);
  auto broken = post(c, "/v1/messages", anthropic_headers(), kAnthropicCall);
  REQUIRE(broken);
  CHECK(broken->status == 200);
  CHECK(json::parse(broken->body, nullptr, false).is_discarded());
}

TEST_CASE("a dropped connection gets no answer") {
  FakeProviderProcess fake({"--fault", "openai:drop:times=1"});
  httplib::Client c("127.0.0.1", fake.port());
  auto dropped = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  CHECK_FALSE(dropped);
  auto next = post(c, "/chat/completions", openai_headers(), kOpenAiCall);
  REQUIRE(next);
  CHECK(next->status == 200);
}

TEST_CASE("the fake exits cleanly on sigterm") {
  FakeProviderProcess fake({"--fault", "openai:delay_ms=60000"});
  fake.process().signal(SIGTERM);
  CHECK(fake.process().wait_exit(std::chrono::seconds(10)) == 0);
}

TEST_CASE("count_tokens answers the input count that the messages endpoint then charges") {
  FakeProviderProcess fake({"--tokenizer", "chars"});
  httplib::Client c("127.0.0.1", fake.port());
  // 4 CJK characters (12 bytes) and 6 digits: 10 characters in one message,
  // plus "Be brief" (8) as system: 18 characters + 3 per message + 3.
  json call = kAnthropicCall;
  call["messages"][0]["content"] = "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97" "123456";
  json count_body = call;
  count_body.erase("max_tokens");
  auto counted = post(c, "/v1/messages/count_tokens", anthropic_headers(), count_body);
  REQUIRE(counted);
  REQUIRE(counted->status == 200);
  CHECK(json::parse(counted->body) == json{{"input_tokens", 24}});
  auto r = post(c, "/v1/messages", anthropic_headers(), call);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(json::parse(r->body)["usage"]["input_tokens"] == 24);
  CHECK(stats(c)["anthropic"]["count_requests"] == 1);
  CHECK(stats(c)["anthropic"]["requests"] == 1);
  // count_tokens takes no max_tokens, as the real endpoint.
  auto bad = post(c, "/v1/messages/count_tokens", anthropic_headers(), call);
  REQUIRE(bad);
  CHECK(bad->status == 400);
}
