// The provider-compatible ingress's pure pieces: the agent keys file, model
// routing, the error formats and the server-sent event dialects.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "daemon/server/agent_keys.h"
#include "daemon/server/ingress_format.h"
#include "daemon/server/ingress_sse.h"

using tollgate::AgentKeys;
using tollgate::Config;
using tollgate::ProviderConfig;
using tollgate::ingress::Dialect;
using tollgate::protocol::Error;
using tollgate::protocol::StreamChunk;

namespace {

Config two_providers() {
  Config c;
  ProviderConfig a;
  a.name = "anthropic";
  a.api = "anthropic";
  a.model = "claude-sonnet-4-5";
  ProviderConfig o;
  o.name = "openai";
  o.api = "openai";
  o.model = "gpt-4.1";
  o.models = {"gpt-4.1", "gpt-4.1-mini"};
  c.providers = {a, o};
  return c;
}

}  // namespace

TEST_CASE("an agent keys file maps keys to agents with comments and model lists", "[ingress]") {
  auto keys = AgentKeys::parse("# agents\n\nsk-tg-aaaaaaaaaaaaaaaa research\n"
                               "sk-tg-bbbbbbbbbbbbbbbb writer models=auto,openai/gpt-4.1-mini\n",
                               "F");
  REQUIRE(keys);
  REQUIRE(keys->size() == 2);
  REQUIRE(keys->find("sk-tg-aaaaaaaaaaaaaaaa") != nullptr);
  CHECK(keys->find("sk-tg-aaaaaaaaaaaaaaaa")->ai_name == "research");
  CHECK(keys->find("sk-tg-aaaaaaaaaaaaaaaa")->allows("anything"));
  const auto* writer = keys->find("sk-tg-bbbbbbbbbbbbbbbb");
  REQUIRE(writer != nullptr);
  CHECK(writer->allows("auto"));
  CHECK(writer->allows("openai/gpt-4.1-mini"));
  CHECK_FALSE(writer->allows("openai/gpt-4.1"));
  CHECK(keys->find("sk-tg-aaaaaaaaaaaaaaab") == nullptr);
  CHECK(keys->find("") == nullptr);
}

TEST_CASE("a bad agent keys line is refused naming the line and never the key", "[ingress]") {
  const std::string key = "sk-tg-secretsecretsecret";
  auto one_word = AgentKeys::parse("# c\n" + key + "\n", "F");
  REQUIRE_FALSE(one_word);
  CHECK(one_word.error().message.find("F line 2") != std::string::npos);
  CHECK(one_word.error().message.find(key) == std::string::npos);
  auto twice = AgentKeys::parse(key + " a\n" + key + " b\n", "F");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("line 2: this key is listed twice") != std::string::npos);
  CHECK_FALSE(AgentKeys::parse("short a\n", "F"));
  CHECK_FALSE(AgentKeys::parse(key + " bad/name\n", "F"));
  CHECK_FALSE(AgentKeys::parse(key + " a admin\n", "F"));
}

TEST_CASE("model routes to the named provider the listing provider or the chain", "[ingress]") {
  const Config c = two_providers();
  auto route = [&](const char* m) { return tollgate::ingress::route_model(c, m); };
  CHECK_FALSE(route("auto")->provider);
  CHECK_FALSE(route("")->model);
  CHECK(route("anthropic/claude-x")->provider == "anthropic");
  CHECK(route("anthropic/claude-x")->model == "claude-x");
  CHECK(route("gpt-4.1-mini")->provider == "openai");
  CHECK(route("claude-sonnet-4-5")->provider == "anthropic");
  CHECK_FALSE(route("some-model")->provider);
  CHECK(route("some-model")->model == "some-model");
  REQUIRE_FALSE(route("nowhere/model"));
  CHECK(route("nowhere/model").error().message.find("names no configured provider") != std::string::npos);
}

TEST_CASE("errors use each endpoint's status type and retry advice", "[ingress]") {
  using tollgate::ingress::error_answer;
  auto budget_openai = error_answer(Dialect::kOpenAI, Error::budget_exhausted("spent"));
  CHECK(budget_openai.status == 429);
  CHECK_FALSE(budget_openai.should_retry);
  auto body = nlohmann::json::parse(budget_openai.body);
  CHECK(body["error"]["type"] == "insufficient_quota");
  CHECK(body["error"]["code"] == "insufficient_quota");
  auto budget_anthropic = error_answer(Dialect::kAnthropic, Error::budget_exhausted("spent"));
  CHECK(nlohmann::json::parse(budget_anthropic.body)["error"]["type"] == "rate_limit_error");
  auto limited = error_answer(Dialect::kOpenAI, Error::rate_limited("slow down", 1500));
  CHECK(limited.status == 429);
  CHECK(limited.retry_after_ms == 1500);
  CHECK(limited.should_retry);
  CHECK(error_answer(Dialect::kAnthropic, Error::overloaded("busy", 1)).status == 529);
  CHECK(error_answer(Dialect::kOpenAI, Error::overloaded("busy", 1)).status == 503);
  CHECK(error_answer(Dialect::kOpenAI, Error::emergency_shutdown("off")).status == 503);
  auto ledger = error_answer(Dialect::kAnthropic, Error::ledger_unavailable("database down", 1000));
  CHECK(ledger.status == 503);
  CHECK(ledger.retry_after_ms == 1000);
  CHECK(ledger.should_retry);  // refused before any provider was asked: a retry is safe
  CHECK(error_answer(Dialect::kAnthropic, Error::unauthorized("who")).status == 401);
}

TEST_CASE("an OpenAI stream numbers tool calls among tool calls and ends with DONE", "[ingress]") {
  auto w = tollgate::ingress::SseWriter::make(Dialect::kOpenAI, "chatcmpl-1", "auto", 7, true);
  std::string out = w->begin();
  out += w->part({StreamChunk::Type::kTextDelta, 0, "hi", {}, {}});
  out += w->part({StreamChunk::Type::kToolUseStart, 1, {}, "call_1", "f"});
  out += w->part({StreamChunk::Type::kInputJsonDelta, 1, "{}", {}, {}});
  tollgate::protocol::CallReply reply;
  reply.stop_reason = tollgate::protocol::StopReason::kToolUse;
  reply.usage = {3, 4, 7, {}, {}};
  out += w->finish(reply);
  CHECK(out.find(R"("tool_calls":[{"index":0,"id":"call_1")") != std::string::npos);
  CHECK(out.find(R"("finish_reason":"tool_calls")") != std::string::npos);
  CHECK(out.find(R"("usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7})") != std::string::npos);
  CHECK(out.ends_with("data: [DONE]\n\n"));
}

TEST_CASE("an Anthropic stream opens and closes each content block around its deltas", "[ingress]") {
  auto w = tollgate::ingress::SseWriter::make(Dialect::kAnthropic, "msg_1", "auto", 0, false);
  std::string out = w->begin();
  out += w->part({StreamChunk::Type::kTextDelta, 0, "hi", {}, {}});
  out += w->part({StreamChunk::Type::kToolUseStart, 1, {}, "toolu_1", "f"});
  out += w->part({StreamChunk::Type::kInputJsonDelta, 1, "{}", {}, {}});
  out += w->finish({});
  const std::vector<std::string> order = {
      "event: message_start",       "event: content_block_start", "event: content_block_delta",
      "event: content_block_stop",  "event: content_block_start", "event: content_block_delta",
      "event: content_block_stop",  "event: message_delta",       "event: message_stop"};
  size_t at = 0;
  for (const auto& e : order) {
    at = out.find(e, at);
    REQUIRE(at != std::string::npos);
    ++at;
  }
}

TEST_CASE("a request body becomes a call with its stream flags and the key agent", "[ingress]") {
  using tollgate::ingress::read_request;
  auto openai = read_request(Dialect::kOpenAI,
                             R"({"model":"openai/gpt-4.1","stream":true,"stream_options":{"include_usage":true},)"
                             R"("max_tokens":30,"temperature":0.5,"stop":["END"],)"
                             R"("messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})",
                             32);
  REQUIRE(openai);
  CHECK(openai->stream);
  CHECK(openai->include_usage);
  CHECK(openai->model == "openai/gpt-4.1");
  const Config c = two_providers();
  auto route = tollgate::ingress::route_model(c, openai->model);
  REQUIRE(route);
  auto call = tollgate::ingress::make_call(*openai, "research", *route, std::string("key-1"));
  CHECK(call.ai_name == "research");
  CHECK(call.preferred_provider == "openai");
  CHECK(call.model == "gpt-4.1");
  CHECK(call.system == "be brief");
  CHECK(call.max_tokens == 30u);
  CHECK(call.stop_sequences == std::vector<std::string>{"END"});
  CHECK(call.idempotency_key == "key-1");
  CHECK(call.stream);
  REQUIRE(call.messages.size() == 1);
  auto anthropic = read_request(Dialect::kAnthropic, R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", 32);
  REQUIRE(anthropic);
  CHECK(anthropic->model == "auto");
  CHECK_FALSE(anthropic->stream);
}

TEST_CASE("a request body with a repeated key or too deep is refused before it is read", "[ingress]") {
  using tollgate::ingress::read_request;
  auto twice = read_request(Dialect::kOpenAI, R"({"model":"a","model":"b","messages":[]})", 32);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("given more than once") != std::string::npos);
  const std::string deep = R"({"messages":)" + std::string(40, '[') + std::string(40, ']') + "}";
  auto too_deep = read_request(Dialect::kAnthropic, deep, 32);
  REQUIRE_FALSE(too_deep);
  CHECK(too_deep.error().code == tollgate::protocol::ErrorCode::kBadRequest);
  CHECK_FALSE(read_request(Dialect::kOpenAI, "[1]", 32));
  CHECK_FALSE(read_request(Dialect::kOpenAI, "not json", 32));
}
