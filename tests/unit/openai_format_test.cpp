// protocol/openai_format.h: the rules of PROTOCOL.md section 8 for the
// OpenAI Chat Completions format, on the documented OpenAI examples and on
// neutral conversations (including one started on Anthropic).
#include <catch2/catch.hpp>

#include <string>

#include "protocol/anthropic_format.h"
#include "protocol/openai_format.h"
#include "tests/unit/provider_format_test_util.h"

using namespace tollgate::protocol;
using namespace tollgate::testing;
using Type = ContentBlock::Type;

namespace {

ChatParts read_request(const JsonValue& body) {
  auto parts = parse_openai_request(body);
  if (!parts.ok()) FAIL(parts.error().message);
  return parts.value();
}

ChatReply read_reply(const JsonValue& body) {
  auto reply = parse_openai_response(body);
  if (!reply.ok()) FAIL(reply.error().message);
  return reply.value();
}

JsonValue reply_with_call(const std::string& call_json) {
  return JsonValue::parse(R"({"id":"chatcmpl-9","choices":[{"message":{"content":null,"tool_calls":[)" +
                          call_json + R"(]},"finish_reason":"tool_calls"}]})");
}

}  // namespace

TEST_CASE("the documented openai function call conversation reads into neutral blocks") {
  ChatParts parts = read_request(provider_fixture("openai_function_call_request.json"));
  REQUIRE(parts.messages.size() == 3);
  CHECK(parts.messages[0].content == "What is the weather like in Paris today?");
  CHECK(parts.messages[1].blocks ==
        std::vector<ContentBlock>{tool_use_block("call_12345xyz", "get_weather", R"({"location":"Paris, France"})")});
  CHECK(parts.messages[2].role == "user");
  CHECK(parts.messages[2].blocks == std::vector<ContentBlock>{tool_result_block("call_12345xyz", "14")});
  REQUIRE(parts.tools.size() == 1);
  CHECK(parts.tools[0].input_schema["additionalProperties"] == false);
  CHECK(parts.tool_choice == ToolChoice{});
}

TEST_CASE("every documented openai request is written back exactly as it was read") {
  for (const char* name : {"openai_function_call_request.json", "openai_image_request.json"}) {
    INFO(name);
    const JsonValue fixture = provider_fixture(name);
    const ChatParts parts = read_request(fixture);
    CHECK(unordered(openai_request(parts)) == unordered(fixture));
    CHECK(read_request(openai_request(parts)) == parts);
  }
}

TEST_CASE("openai image parts become base64 and url images") {
  ChatParts parts = read_request(provider_fixture("openai_image_request.json"));
  const auto& blocks = parts.messages[0].blocks;
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[1].image.kind == ImageSource::Kind::kUrl);
  CHECK(blocks[2].image.kind == ImageSource::Kind::kBase64);
  CHECK(blocks[2].image.media_type == "image/jpeg");
  CHECK(blocks[2].image.data == "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAA==");
  CHECK(image_url_text(blocks[2].image) == "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAA==");
}

TEST_CASE("system blocks join into the first system message") {
  ChatParts parts;
  parts.model = "m";
  parts.system_blocks = {text_block("You are terse."), text_block("Answer in French.")};
  parts.system_blocks[0].cache_control = JsonValue::parse(R"({"type":"ephemeral"})");
  parts.messages = {{"user", "hi", {}}};
  const JsonValue body = openai_request(parts);
  CHECK(body["messages"][0] == JsonValue::parse(R"({"content":"You are terse.\n\nAnswer in French.","role":"system"})"));
  CHECK(read_request(body).system == "You are terse.\n\nAnswer in French.");
}

TEST_CASE("an assistant turn with text and tool calls is one openai message") {
  ChatParts parts;
  parts.messages = {{"user", "weather?", {}},
                    {"assistant", "", {text_block("Let me look."), tool_use_block("toolu_1", "get_weather", R"({"city":"Oslo"})"),
                                       tool_use_block("toolu_2", "get_time", "{}")}}};
  const JsonValue message = openai_request(parts)["messages"][1];
  CHECK(message == JsonValue::parse(R"({"content":"Let me look.","role":"assistant","tool_calls":[
    {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
    {"id":"toolu_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]})"));
}

TEST_CASE("several tool results become tool messages before the user text of their turn") {
  ChatParts parts;
  ContentBlock many = tool_result_block("call_b", "");
  many.content_is_string = false;
  many.content = {text_block("part one"), text_block("part two")};
  parts.messages = {{"user", "go", {}},
                    {"assistant", "", {tool_use_block("call_a", "f", "{}"), tool_use_block("call_b", "g", "{}")}},
                    {"user", "", {tool_result_block("call_a", "A"), many, text_block("and now?")}}};
  const JsonValue messages = openai_request(parts)["messages"];
  REQUIRE(messages.size() == 5);
  CHECK(messages[2] == JsonValue::parse(R"({"content":"A","role":"tool","tool_call_id":"call_a"})"));
  CHECK(messages[3] == JsonValue::parse(R"({"content":[{"type":"text","text":"part one"},
    {"type":"text","text":"part two"}],"role":"tool","tool_call_id":"call_b"})"));
  CHECK(messages[4] == JsonValue::parse(R"({"content":[{"type":"text","text":"and now?"}],"role":"user"})"));
  CHECK(read_request(openai_request(parts)).messages == parts.messages);
}

TEST_CASE("tool choice tools stop sequences and top_p follow the openai names") {
  ChatParts parts;
  parts.messages = {{"user", "hi", {}}};
  ToolSpec tool;
  tool.name = "get_weather";
  tool.description = "Weather now";
  tool.input_schema = JsonValue::parse(R"({"type":"object","properties":{"city":{"type":"string"}}})");
  parts.tools = {tool};
  parts.stop_sequences = {"END"};
  parts.top_p = 0.25;
  const std::pair<ToolChoice::Type, const char*> choices[] = {
      {ToolChoice::Type::kAuto, R"("auto")"},
      {ToolChoice::Type::kNone, R"("none")"},
      {ToolChoice::Type::kAny, R"("required")"},
      {ToolChoice::Type::kTool, R"({"type":"function","function":{"name":"get_weather"}})"}};
  for (const auto& [type, json] : choices) {
    parts.tool_choice = ToolChoice{type, type == ToolChoice::Type::kTool ? "get_weather" : ""};
    const JsonValue body = openai_request(parts);
    CHECK(body["tool_choice"] == JsonValue::parse(json));
    CHECK(read_request(body) == parts);
  }
  const JsonValue body = openai_request(parts);
  CHECK(body["tools"][0] == JsonValue::parse(R"({"type":"function","function":{"name":"get_weather",
    "description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}})"));
  CHECK(body["stop"] == JsonValue::parse(R"(["END"])"));
  CHECK(body["top_p"] == 0.25);
}

TEST_CASE("a text only openai request has the keys and order of before") {
  ChatParts parts;
  parts.model = "gpt";
  parts.max_tokens = 5;
  parts.temperature = 3.0;
  parts.system = "s";
  parts.messages = {{"user", "hi", {}}};
  CHECK(openai_request(parts).dump() ==
        R"({"max_tokens":5,"messages":[{"content":"s","role":"system"},{"content":"hi","role":"user"}],)"
        R"("model":"gpt","temperature":2.0})");
}

TEST_CASE("the documented openai tool calls reply reads into tool use blocks") {
  ChatReply reply = read_reply(provider_fixture("openai_tool_calls_response.json"));
  CHECK(reply.stop_reason == StopReason::kToolUse);
  CHECK(reply.content ==
        std::vector<ContentBlock>{tool_use_block("call_12345xyz", "get_weather", R"({"location":"Paris, France"})")});
  REQUIRE(reply.usage);
  CHECK(reply.usage->input_tokens == 82);
  CHECK(reply.usage->cache_read_input_tokens == 0u);
  CHECK_FALSE(reply.usage->cache_creation_input_tokens);
}

TEST_CASE("openai parallel tool calls keep every call in order") {
  ChatReply reply = read_reply(provider_fixture("openai_parallel_tool_calls_response.json"));
  REQUIRE(reply.content.size() == 3);
  CHECK(reply.content[0].id == "call_12345xyz");
  CHECK(reply.content[1].input["location"] == "Bogotá, Colombia");
  CHECK(reply.content[2].name == "send_email");
  CHECK(reply.content[2].input.dump() == R"({"to":"bob@email.com","body":"Hi bob"})");
}

TEST_CASE("openai cached tokens are cache reads already inside the prompt tokens") {
  ChatReply reply = read_reply(provider_fixture("openai_cached_usage_response.json"));
  REQUIRE(reply.usage);
  CHECK(reply.usage->input_tokens == 2006);
  CHECK(reply.usage->cache_read_input_tokens == 1920u);
  CHECK(reply.usage->output_tokens == 300);
  CHECK(reply.content == std::vector<ContentBlock>{text_block("Here is the summary.")});
}

TEST_CASE("an openai refusal is a refusal with its text") {
  ChatReply reply = read_reply(provider_fixture("openai_refusal_response.json"));
  CHECK(reply.stop_reason == StopReason::kRefusal);
  CHECK(reply.content == std::vector<ContentBlock>{text_block("I'm sorry, I cannot assist with that request.")});
}

TEST_CASE("every openai finish reason maps to a stop reason") {
  CHECK(openai_finish_reason("stop") == StopReason::kEndTurn);
  CHECK(openai_finish_reason("length") == StopReason::kMaxTokens);
  CHECK(openai_finish_reason("tool_calls") == StopReason::kToolUse);
  CHECK(openai_finish_reason("function_call") == StopReason::kToolUse);
  CHECK(openai_finish_reason("content_filter") == StopReason::kRefusal);
  CHECK_FALSE(openai_finish_reason("eos"));
  CHECK(openai_finish_reason_name(StopReason::kStopSequence) == "stop");
  for (auto reason : {StopReason::kEndTurn, StopReason::kMaxTokens, StopReason::kToolUse, StopReason::kRefusal}) {
    ChatReply reply;
    reply.stop_reason = reason;
    CHECK(read_reply(openai_response(reply, 1)).stop_reason == reason);
  }
}

TEST_CASE("tool call arguments that are not a json object are kept as raw text") {
  for (const char* args : {"not json at all", "[1,2]", "\"a string\"", "{\"cut\":"}) {
    INFO(args);
    JsonValue call = JsonValue::object();
    call["id"] = "call_1";
    call["type"] = "function";
    call["function"] = {{"name", "f"}, {"arguments", args}};
    ChatReply reply = read_reply(reply_with_call(call.dump()));
    REQUIRE(reply.content.size() == 1);
    CHECK(reply.content[0].input == JsonValue{{kRawArgumentsKey, args}});
    CHECK(tool_arguments_text(reply.content[0].input) == args);
  }
  CHECK(tool_arguments_input("") == JsonValue::object());
  CHECK(tool_arguments_input("  ") == JsonValue::object());
}

TEST_CASE("openai tool calls with object arguments or no id still read") {
  ChatReply reply = read_reply(reply_with_call(
      R"({"type":"function","function":{"name":"f","arguments":{"a":1}}},{"function":{"name":"g"}})"));
  REQUIRE(reply.content.size() == 2);
  CHECK(reply.content[0].id == "call_chatcmpl-9_0");
  CHECK(reply.content[0].input == JsonValue::parse(R"({"a":1})"));
  CHECK(reply.content[1].id == "call_chatcmpl-9_1");
  CHECK(reply.content[1].input == JsonValue::object());
}

TEST_CASE("a legacy openai function call reads as one tool use") {
  ChatReply reply = read_reply(JsonValue::parse(R"({"choices":[{"message":{"content":null,
    "function_call":{"name":"f","arguments":"{\"x\":true}"}},"finish_reason":"function_call"}]})"));
  CHECK(reply.stop_reason == StopReason::kToolUse);
  CHECK(reply.content == std::vector<ContentBlock>{tool_use_block("call_0", "f", R"({"x":true})")});
}

TEST_CASE("an openai reply that cannot be read names the field") {
  auto no_name = parse_openai_response(reply_with_call(R"({"id":"c","function":{"arguments":"{}"}})"));
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.error().message == "choices[0].message.tool_calls[0].function.name: missing");
  auto bad_content = parse_openai_response(JsonValue::parse(R"({"choices":[{"message":{"content":5}}]})"));
  CHECK(bad_content.error().message == "choices[0].message.content: not a string");
  CHECK(parse_openai_response(JsonValue::parse(R"({"choices":[]})")).error().message == "choices: empty");
}

TEST_CASE("an openai request that cannot be read names the field") {
  auto late_system = parse_openai_request(JsonValue::parse(
      R"({"messages":[{"role":"user","content":"a"},{"role":"system","content":"b"}]})"));
  CHECK(late_system.error().message == "messages[1].role: a system message after the first turn");
  auto no_id = parse_openai_request(JsonValue::parse(R"({"messages":[{"role":"tool","content":"x"}]})"));
  CHECK(no_id.error().message == "messages[0].tool_call_id: missing");
  auto audio = parse_openai_request(JsonValue::parse(
      R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})"));
  CHECK(audio.error().message == R"(messages[0].content[0].type: a "input_audio" part cannot be read here)");
}

TEST_CASE("a conversation started on anthropic continues on openai with its tool ids") {
  auto started = parse_anthropic_request(provider_fixture("anthropic_tool_use_request.json"));
  REQUIRE(started.ok());
  const JsonValue body = openai_request(started.value());
  const JsonValue& messages = body["messages"];
  REQUIRE(messages.size() == 3);
  CHECK(messages[1]["tool_calls"][0]["id"] == "toolu_01A09q90qw90lq917835lq9");
  CHECK(messages[1]["tool_calls"][0]["function"]["arguments"] == R"({"location":"San Francisco, CA","unit":"celsius"})");
  CHECK(messages[2] == JsonValue::parse(
      R"({"content":"15 degrees","role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9"})"));
  CHECK(body["tools"][0]["function"]["parameters"] == started->tools[0].input_schema);
  // And back: the ids and inputs are the ones the conversation started with.
  ChatParts back = read_request(body);
  CHECK(back.messages[1].blocks[1] == started->messages[1].blocks[1]);
  CHECK(back.messages[2].blocks == started->messages[2].blocks);
}

TEST_CASE("openai refuses what its format cannot carry naming the block") {
  ContentBlock result = tool_result_block("call_1", "");
  result.content_is_string = false;
  result.content = {text_block("see"), image_block("aGk=", false)};
  std::vector<ChatMessage> messages = {{"user", "q", {}},
                                       {"assistant", "", {tool_use_block("call_1", "f", "{}")}},
                                       {"user", "", {result}}};
  CHECK(openai_unsupported(messages, true) ==
        "messages[2].content[0].content[1]: an image inside a tool_result cannot be sent in the OpenAI format");
  messages = {{"user", "", {text_block("look"), image_block("https://x/y.png", true)}}};
  CHECK(openai_unsupported(messages, true) == std::nullopt);
  CHECK(openai_unsupported(messages, false) ==
        "messages[0].content[1]: image by url cannot be sent to this provider (image_urls = false)");
  messages = {{"user", "", {tool_use_block("call_1", "f", "{}")}}};
  CHECK(openai_unsupported(messages, true) ==
        "messages[0].content[0]: tool_use in a user turn cannot be sent in the OpenAI format");
  messages = {{"user", "q", {}}, {"assistant", "", {image_block("aGk=", false)}}};
  CHECK(openai_unsupported(messages, true) ==
        "messages[1].content[0]: image in an assistant turn cannot be sent in the OpenAI format");
}
