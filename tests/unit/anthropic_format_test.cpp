// protocol/anthropic_format.h: the documented Anthropic examples read into
// the neutral form and written back unchanged, replies, stop reasons, cache
// usage, and errors that name the field.
#include <catch2/catch.hpp>

#include <string>

#include "protocol/anthropic_format.h"
#include "tests/unit/provider_format_test_util.h"

using namespace tollgate::protocol;
using namespace tollgate::testing;
using Type = ContentBlock::Type;

namespace {

ChatParts read_fixture(const std::string& name) {
  auto parts = parse_anthropic_request(provider_fixture(name));
  REQUIRE(parts.ok());
  return parts.value();
}

std::string request_error(const std::string& body) {
  auto parts = parse_anthropic_request(JsonValue::parse(body));
  REQUIRE_FALSE(parts.ok());
  CHECK(parts.error().code == ErrorCode::kBadRequest);
  return parts.error().message;
}

}  // namespace

TEST_CASE("the documented anthropic tool use conversation reads into neutral blocks") {
  ChatParts parts = read_fixture("anthropic_tool_use_request.json");
  CHECK(parts.model == "claude-opus-4-1-20250805");
  CHECK(parts.max_tokens == 1024u);
  REQUIRE(parts.tools.size() == 1);
  CHECK(parts.tools[0].name == "get_weather");
  CHECK(parts.tools[0].input_schema["required"][0] == "location");
  REQUIRE(parts.messages.size() == 3);
  CHECK(parts.messages[0].content == "What is the weather like in San Francisco?");
  const auto& assistant = parts.messages[1].blocks;
  REQUIRE(assistant.size() == 2);
  CHECK(assistant[0].type == Type::kText);
  CHECK(assistant[1] == tool_use_block("toolu_01A09q90qw90lq917835lq9", "get_weather",
                                       R"({"location":"San Francisco, CA","unit":"celsius"})"));
  REQUIRE(parts.messages[2].blocks.size() == 1);
  CHECK(parts.messages[2].blocks[0] == tool_result_block("toolu_01A09q90qw90lq917835lq9", "15 degrees"));
}

TEST_CASE("every documented anthropic request is written back exactly as it was read") {
  for (const char* name : {"anthropic_tool_use_request.json", "anthropic_tool_results_request.json",
                           "anthropic_image_request.json"}) {
    INFO(name);
    const JsonValue fixture = provider_fixture(name);
    const ChatParts parts = read_fixture(name);
    CHECK(unordered(anthropic_request(parts)) == unordered(fixture));
    auto again = parse_anthropic_request(anthropic_request(parts));
    REQUIRE(again.ok());
    CHECK(again.value() == parts);
  }
}

TEST_CASE("anthropic tool results keep their images is_error and cache markers") {
  ChatParts parts = read_fixture("anthropic_tool_results_request.json");
  REQUIRE(parts.system_blocks.size() == 2);
  CHECK(parts.system_blocks[0].cache_control == JsonValue::parse(R"({"type":"ephemeral"})"));
  CHECK(parts.tools[1].cache_control == JsonValue::parse(R"({"type":"ephemeral"})"));
  CHECK(parts.tool_choice == ToolChoice{});
  const auto& turn = parts.messages[2].blocks;
  REQUIRE(turn.size() == 3);
  REQUIRE(turn[0].content.size() == 2);
  CHECK_FALSE(turn[0].content_is_string);
  CHECK(turn[0].content[1].type == Type::kImage);
  CHECK(turn[0].content[1].image.media_type == "image/jpeg");
  CHECK(turn[1].is_error);
  CHECK(turn[1].content_is_string);
  CHECK(turn[2] == text_block("Please keep it short."));
}

TEST_CASE("anthropic images by base64 and by url read and write back") {
  ChatParts parts = read_fixture("anthropic_image_request.json");
  const auto& blocks = parts.messages[0].blocks;
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].image.kind == ImageSource::Kind::kBase64);
  CHECK(blocks[1].image.kind == ImageSource::Kind::kUrl);
  CHECK(blocks[1].image.url.find("Camponotus") != std::string::npos);
}

TEST_CASE("a text only anthropic request has the keys and order of before") {
  ChatParts parts;
  parts.model = "m";
  parts.max_tokens = 10;
  parts.temperature = 1.5;
  parts.system = "s";
  parts.messages = {{"user", "hi", {}}};
  CHECK(anthropic_request(parts).dump() ==
        R"({"max_tokens":10,"messages":[{"content":"hi","role":"user"}],"model":"m","system":"s","temperature":1.0})");
}

TEST_CASE("anthropic requests carry stop sequences top_p and every tool choice") {
  ChatParts parts;
  parts.model = "m";
  parts.messages = {{"user", "hi", {}}};
  parts.stop_sequences = {"END", "\n\nHuman:"};
  parts.top_p = 0.9;
  const JsonValue body = anthropic_request(parts);
  CHECK(body["stop_sequences"] == JsonValue::parse(R"(["END","\n\nHuman:"])"));
  CHECK(body["top_p"] == 0.9);
  const std::pair<ToolChoice::Type, const char*> choices[] = {
      {ToolChoice::Type::kAuto, R"({"type":"auto"})"},
      {ToolChoice::Type::kAny, R"({"type":"any"})"},
      {ToolChoice::Type::kNone, R"({"type":"none"})"},
      {ToolChoice::Type::kTool, R"({"type":"tool","name":"get_weather"})"}};
  for (const auto& [type, json] : choices) {
    parts.tool_choice = ToolChoice{type, type == ToolChoice::Type::kTool ? "get_weather" : ""};
    CHECK(anthropic_request(parts)["tool_choice"] == JsonValue::parse(json));
    CHECK(parse_anthropic_request(anthropic_request(parts)).value().tool_choice == parts.tool_choice);
  }
}

TEST_CASE("an anthropic count request carries tools tool choice and system blocks") {
  ChatParts parts = read_fixture("anthropic_tool_results_request.json");
  const JsonValue body = anthropic_count_request(parts);
  CHECK(body["tools"].size() == 2);
  CHECK(body["tool_choice"] == JsonValue::parse(R"({"type":"auto"})"));
  CHECK(body["system"].size() == 2);
  CHECK_FALSE(body.contains("max_tokens"));
  CHECK_FALSE(body.contains("temperature"));
}

TEST_CASE("the documented anthropic tool use reply reads into text and tool use blocks") {
  auto reply = parse_anthropic_response(provider_fixture("anthropic_tool_use_response.json"));
  REQUIRE(reply.ok());
  CHECK(reply->id == "msg_01Aq9w938a90dw8q");
  CHECK(reply->stop_reason == StopReason::kToolUse);
  REQUIRE(reply->content.size() == 2);
  CHECK(reply->content[1].id == "toolu_01A09q90qw90lq917835lq9");
  CHECK(reply->content[1].input["unit"] == "celsius");
  REQUIRE(reply->usage);
  CHECK(reply->usage->input_tokens == 384);
  CHECK_FALSE(reply->usage->cache_read_input_tokens);
}

TEST_CASE("anthropic parallel tool use keeps every call in order") {
  auto reply = parse_anthropic_response(provider_fixture("anthropic_parallel_tool_use_response.json"));
  REQUIRE(reply.ok());
  REQUIRE(reply->content.size() == 3);
  CHECK(reply->content[1].id == "toolu_01WeatherSF");
  CHECK(reply->content[2].id == "toolu_01TimeSF");
  CHECK(reply->content[2].name == "get_time");
}

TEST_CASE("anthropic cache counts are input and are reported on their own") {
  auto reply = parse_anthropic_response(provider_fixture("anthropic_cached_usage_response.json"));
  REQUIRE(reply.ok());
  REQUIRE(reply->usage);
  CHECK(reply->usage->input_tokens == 21 + 188086);
  CHECK(reply->usage->cache_creation_input_tokens == 188086u);
  CHECK(reply->usage->cache_read_input_tokens == 0u);
  CHECK(reply->usage->output_tokens == 393);
  CHECK(reply->usage->total_tokens == 21 + 188086 + 393);
}

TEST_CASE("every anthropic reply is written back and reads the same") {
  for (const char* name : {"anthropic_tool_use_response.json", "anthropic_parallel_tool_use_response.json",
                           "anthropic_cached_usage_response.json"}) {
    INFO(name);
    auto reply = parse_anthropic_response(provider_fixture(name));
    REQUIRE(reply.ok());
    const JsonValue written = anthropic_response(reply.value());
    CHECK(unordered(written) == unordered(provider_fixture(name)));
    auto again = parse_anthropic_response(written);
    REQUIRE(again.ok());
    CHECK(again.value() == reply.value());
  }
}

TEST_CASE("every anthropic stop reason maps and pause turn is end turn") {
  CHECK(anthropic_stop_reason("end_turn") == StopReason::kEndTurn);
  CHECK(anthropic_stop_reason("max_tokens") == StopReason::kMaxTokens);
  CHECK(anthropic_stop_reason("stop_sequence") == StopReason::kStopSequence);
  CHECK(anthropic_stop_reason("tool_use") == StopReason::kToolUse);
  CHECK(anthropic_stop_reason("refusal") == StopReason::kRefusal);
  CHECK(anthropic_stop_reason("pause_turn") == StopReason::kEndTurn);
  CHECK_FALSE(anthropic_stop_reason("model_context_window_exceeded_x"));
  for (auto reason : {StopReason::kEndTurn, StopReason::kMaxTokens, StopReason::kStopSequence,
                      StopReason::kToolUse, StopReason::kRefusal}) {
    ChatReply reply;
    reply.stop_reason = reason;
    CHECK(parse_anthropic_response(anthropic_response(reply)).value().stop_reason == reason);
  }
}

TEST_CASE("anthropic reply blocks other than text and tool use are skipped") {
  auto reply = parse_anthropic_response(JsonValue::parse(R"({"content":[
    {"type":"thinking","thinking":"hmm","signature":"x"},{"type":"text","text":"ok"}],
    "stop_reason":"end_turn"})"));
  REQUIRE(reply.ok());
  CHECK(reply->content == std::vector<ContentBlock>{text_block("ok")});
  CHECK_FALSE(reply->usage);
}

TEST_CASE("an anthropic reply that cannot be read names the field") {
  auto bad_input = parse_anthropic_response(JsonValue::parse(
      R"({"content":[{"type":"tool_use","id":"t","name":"n","input":[1]}]})"));
  REQUIRE_FALSE(bad_input.ok());
  CHECK(bad_input.error().message == "content[0].input: not an object");
  auto no_id = parse_anthropic_response(JsonValue::parse(
      R"({"content":[{"type":"text","text":"a"},{"type":"tool_use","name":"n","input":{}}]})"));
  CHECK(no_id.error().message == "content[1].id: missing");
}

TEST_CASE("an anthropic request that cannot be read names the field") {
  CHECK(request_error(R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},
    {"role":"user","content":[{"type":"tool_result","content":"x"}]}]})") ==
        "messages[2].content[0].tool_use_id: missing");
  CHECK(request_error(R"({"messages":[{"role":"user","content":[{"type":"video"}]}]})") ==
        R"(messages[0].content[0].type: unknown block type "video")");
  CHECK(request_error(R"({"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file"}}]}]})") ==
        R"(messages[0].content[0].source.type: unknown image source type "file")");
  CHECK(request_error(R"({"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t",
    "content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}]}]})") ==
        R"(messages[0].content[0].content[0].type: a tool_result holds text and image blocks only, not "tool_use")");
  CHECK(request_error(R"({"messages":5})") == "messages: not an array");
  CHECK(request_error(R"({"messages":[],"tool_choice":{"type":"some"}})") ==
        R"(tool_choice.type: unknown tool choice "some")");
  CHECK(request_error(R"([])") == "body: not an object");
}

TEST_CASE("anthropic refuses url images when the provider takes none and foreign tool ids") {
  std::vector<ChatMessage> messages = {{"user", "", {text_block("a"), image_block("https://x/y.png", true)}}};
  CHECK(anthropic_unsupported(messages, true) == std::nullopt);
  CHECK(anthropic_unsupported(messages, false) ==
        "messages[0].content[1]: image by url cannot be sent to this provider (image_urls = false)");
  messages = {{"user", "q", {}},
              {"assistant", "", {tool_use_block("functions.get_weather:0", "get_weather", "{}")}}};
  CHECK(anthropic_unsupported(messages, true) ==
        "messages[1].content[0]: tool id \"functions.get_weather:0\" cannot be sent in the Anthropic "
        "format (only A-Z, a-z, 0-9, _ and -)");
  ContentBlock result = tool_result_block("call_1", "");
  result.content_is_string = false;
  result.content = {image_block("https://x/z.png", true)};
  messages = {{"user", "", {result}}};
  CHECK(anthropic_unsupported(messages, false) ==
        "messages[0].content[0].content[0]: image by url cannot be sent to this provider (image_urls = false)");
}
