// The adapters with full-fidelity calls (PROTOCOL.md section 8): every
// block kind through each adapter's request and back, replies with tool
// calls, stop reasons and cache counts, a conversation that moves from
// Anthropic to OpenAI, and what each format refuses.
#include <catch2/catch.hpp>

#include <string>

#include "protocol/anthropic_format.h"
#include "protocol/openai_format.h"
#include "tests/unit/provider_format_test_util.h"
#include "tests/unit/provider_test_util.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using namespace tollgate::workers::testing;
using namespace tollgate::testing;
using tollgate::protocol::ContentBlock;
using tollgate::protocol::JsonValue;
using tollgate::protocol::StopReason;
using tollgate::protocol::ToolChoice;
using tollgate::protocol::ToolSpec;

namespace {

const AnthropicAdapter kAnthropic;
const OpenAiAdapter kOpenAi;

// One call with every block kind: text, images by base64 and url, tool_use,
// tool_result as a string and as blocks, system blocks, tools, tool choice,
// stop sequences and top_p.
ProviderCall every_block_call() {
  ProviderCall call;
  call.api_key = "sk-test-0123456789";
  call.base_url = "https://api.example.com";
  call.model = "model-x";
  call.system_blocks = {text_block("Be exact.")};
  ContentBlock blocks_result = tool_result_block("toolu_02", "");
  blocks_result.content_is_string = false;
  blocks_result.content = {text_block("line one"), text_block("line two")};
  call.messages = {
      {"user", "", {text_block("Look:"), image_block("iVBORw0KGgo=", false), image_block("https://x.test/a.png", true)}},
      {"assistant", "", {text_block("Checking."), tool_use_block("toolu_01", "lookup", R"({"q":"a","n":2})"),
                         tool_use_block("toolu_02", "fetch", "{}")}},
      {"user", "", {tool_result_block("toolu_01", "found"), blocks_result, text_block("Go on.")}}};
  call.max_tokens = 300;
  call.temperature = 0.4;
  ToolSpec tool;
  tool.name = "lookup";
  tool.description = "Looks things up";
  tool.input_schema = JsonValue::parse(R"({"type":"object","properties":{"q":{"type":"string"},"n":{"type":"integer"}}})");
  call.tools = {tool};
  call.tool_choice = ToolChoice{ToolChoice::Type::kAny, ""};
  call.stop_sequences = {"STOP"};
  call.top_p = 0.5;
  return call;
}

JsonValue body_of(const HttpRequest& req) { return JsonValue::parse(req.body); }

ProviderResult answer(const ProviderAdapter& adapter, const JsonValue& body) {
  return adapter.parse_response(200, {}, body.dump(), kNow);
}

}  // namespace

TEST_CASE("every block kind survives the anthropic adapter and back unchanged") {
  const ProviderCall call = every_block_call();
  auto back = tollgate::protocol::parse_anthropic_request(body_of(kAnthropic.build_request(call)));
  REQUIRE(back.ok());
  CHECK(back.value() == to_chat_parts(call));
}

TEST_CASE("every block kind survives the openai adapter and back in openai shape") {
  const ProviderCall call = every_block_call();
  const JsonValue body = body_of(kOpenAi.build_request(call));
  auto back = tollgate::protocol::parse_openai_request(body);
  REQUIRE(back.ok());
  auto expected = to_chat_parts(call);
  expected.system = "Be exact.";  // system blocks: one system message
  expected.system_blocks.clear();
  CHECK(back.value() == expected);
  CHECK(body["tool_choice"] == "required");
  CHECK(body["stop"] == JsonValue::parse(R"(["STOP"])"));
  CHECK(body["messages"][1]["content"][1]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo=");
  CHECK(body["messages"].size() == 6);  // system, user, assistant, two tool messages, user
}

TEST_CASE("an anthropic reply fills content stop reason and cache counts") {
  auto r = answer(kAnthropic, provider_fixture("anthropic_tool_use_response.json"));
  REQUIRE(r.status == ProviderResult::Status::kOk);
  REQUIRE(r.reply.content.size() == 2);
  CHECK(r.reply.text == r.reply.content[0].text);
  CHECK(r.reply.content[1].id == "toolu_01A09q90qw90lq917835lq9");
  CHECK(r.reply.stop_reason == StopReason::kToolUse);
  CHECK_FALSE(r.reply.cache_read_input_tokens);
  auto cached = answer(kAnthropic, provider_fixture("anthropic_cached_usage_response.json"));
  REQUIRE(cached.status == ProviderResult::Status::kOk);
  CHECK(cached.reply.input_tokens == 21 + 188086);
  CHECK(cached.reply.cache_creation_input_tokens == 188086u);
  CHECK(cached.reply.cache_read_input_tokens == 0u);
  CHECK(cached.reply.stop_reason == StopReason::kEndTurn);
}

TEST_CASE("an openai reply fills tool calls stop reason and cached tokens") {
  auto r = answer(kOpenAi, provider_fixture("openai_parallel_tool_calls_response.json"));
  REQUIRE(r.status == ProviderResult::Status::kOk);
  CHECK(r.reply.text.empty());
  REQUIRE(r.reply.content.size() == 3);
  CHECK(r.reply.content[2].input["to"] == "bob@email.com");
  CHECK(r.reply.stop_reason == StopReason::kToolUse);
  auto cached = answer(kOpenAi, provider_fixture("openai_cached_usage_response.json"));
  REQUIRE(cached.status == ProviderResult::Status::kOk);
  CHECK(cached.reply.input_tokens == 2006);
  CHECK(cached.reply.cache_read_input_tokens == 1920u);
  CHECK_FALSE(cached.reply.cache_creation_input_tokens);
  CHECK(cached.reply.text == "Here is the summary.");
}

TEST_CASE("every stop and finish reason reaches the provider reply") {
  for (const auto& [name, reason] : {std::pair{"end_turn", StopReason::kEndTurn},
                                     {"max_tokens", StopReason::kMaxTokens},
                                     {"stop_sequence", StopReason::kStopSequence},
                                     {"tool_use", StopReason::kToolUse},
                                     {"refusal", StopReason::kRefusal},
                                     {"pause_turn", StopReason::kEndTurn}}) {
    JsonValue body = JsonValue::parse(R"({"content":[],"usage":{"input_tokens":1,"output_tokens":1}})");
    body["stop_reason"] = name;
    CHECK(answer(kAnthropic, body).reply.stop_reason == reason);
  }
  for (const auto& [name, reason] : {std::pair{"stop", StopReason::kEndTurn},
                                     {"length", StopReason::kMaxTokens},
                                     {"tool_calls", StopReason::kToolUse},
                                     {"function_call", StopReason::kToolUse},
                                     {"content_filter", StopReason::kRefusal}}) {
    JsonValue body = JsonValue::parse(R"({"choices":[{"message":{"content":"x"}}]})");
    body["choices"][0]["finish_reason"] = name;
    CHECK(answer(kOpenAi, body).reply.stop_reason == reason);
  }
  auto unknown = answer(kOpenAi, JsonValue::parse(R"({"choices":[{"message":{"content":"x"},"finish_reason":"eos"}]})"));
  CHECK(unknown.ok());
  CHECK_FALSE(unknown.reply.stop_reason);
}

TEST_CASE("a tool call started on anthropic is answered on openai after a fallback") {
  // Turn one on Anthropic: the model asks for get_weather.
  ProviderCall call;
  call.model = "claude-opus-4-1-20250805";
  call.messages = {{"user", "What is the weather like in San Francisco?", {}}};
  auto first = answer(kAnthropic, provider_fixture("anthropic_tool_use_response.json"));
  REQUIRE(first.ok());
  // Turn two falls back to OpenAI: the assistant's blocks and the tool's answer go as they are.
  call.messages.push_back({"assistant", "", first.reply.content});
  call.messages.push_back({"user", "", {tool_result_block(first.reply.content[1].id, "15 degrees")}});
  CHECK_FALSE(kOpenAi.unsupported(call, false));
  const JsonValue body = body_of(kOpenAi.build_request(call));
  const JsonValue& messages = body["messages"];
  REQUIRE(messages.size() == 3);
  CHECK(messages[1]["content"] == first.reply.text);
  CHECK(messages[1]["tool_calls"][0]["id"] == "toolu_01A09q90qw90lq917835lq9");
  CHECK(messages[1]["tool_calls"][0]["function"]["arguments"] ==
        R"({"location":"San Francisco, CA","unit":"celsius"})");
  CHECK(messages[2]["role"] == "tool");
  CHECK(messages[2]["tool_call_id"] == "toolu_01A09q90qw90lq917835lq9");
  CHECK(messages[2]["content"] == "15 degrees");
  // OpenAI's answer ends the conversation.
  auto last = answer(kOpenAi, JsonValue::parse(R"({"model":"gpt-4.1","choices":[{"message":{"content":
    "It is 15 degrees in San Francisco."},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":9}})"));
  REQUIRE(last.status == ProviderResult::Status::kOk);
  CHECK(last.reply.text == "It is 15 degrees in San Francisco.");
  CHECK(last.reply.stop_reason == StopReason::kEndTurn);
}

TEST_CASE("each adapter names the block its format cannot carry") {
  ProviderCall call = every_block_call();
  CHECK_FALSE(kAnthropic.unsupported(call, true));
  CHECK_FALSE(kOpenAi.unsupported(call, true));
  CHECK(kAnthropic.unsupported(call, false) ==
        "messages[0].content[2]: image by url cannot be sent to this provider (image_urls = false)");
  CHECK(kOpenAi.unsupported(call, false) ==
        "messages[0].content[2]: image by url cannot be sent to this provider (image_urls = false)");
  call.messages[2].blocks[1].content.push_back(image_block("iVBORw0KGgo=", false));
  CHECK_FALSE(kAnthropic.unsupported(call, true));
  CHECK(kOpenAi.unsupported(call, true) ==
        "messages[2].content[1].content[2]: an image inside a tool_result cannot be sent in the OpenAI format");
}

TEST_CASE("an anthropic count request carries the tools and system blocks of the call") {
  const ProviderCall call = every_block_call();
  auto req = kAnthropic.build_count_request(call);
  REQUIRE(req);
  const JsonValue body = body_of(*req);
  CHECK(body["system"] == JsonValue::parse(R"([{"type":"text","text":"Be exact."}])"));
  CHECK(body["tools"][0]["name"] == "lookup");
  CHECK(body["tool_choice"] == JsonValue::parse(R"({"type":"any"})"));
  CHECK(body["messages"].size() == 3);
  CHECK_FALSE(body.contains("stop_sequences"));
}

TEST_CASE("tool inputs and schemas keep their key order on the wire") {
  ProviderCall call = every_block_call();
  call.messages[1].blocks[1].input = JsonValue::parse(R"({"z":1,"a":2,"m":{"y":1,"b":2}})");
  const std::string anthropic = kAnthropic.build_request(call).body;
  const std::string openai = kOpenAi.build_request(call).body;
  CHECK(anthropic.find(R"("input":{"z":1,"a":2,"m":{"y":1,"b":2}})") != std::string::npos);
  CHECK(openai.find(R"("arguments":"{\"z\":1,\"a\":2,\"m\":{\"y\":1,\"b\":2}}")") != std::string::npos);
  CHECK(openai.find(R"("properties":{"q":{"type":"string"},"n":{"type":"integer"}})") != std::string::npos);
  auto reply = answer(kAnthropic, JsonValue::parse(
      R"({"content":[{"type":"tool_use","id":"t","name":"n","input":{"z":1,"a":2}}]})"));
  CHECK(reply.reply.content[0].input.dump() == R"({"z":1,"a":2})");
}
