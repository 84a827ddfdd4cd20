// PROTOCOL.md section 8 validation in decode_request: one case per rule
// and per size limit, each checking the error code and the full path of
// the offending value in the message.
#include <catch2/catch.hpp>

#include <string>

#include "protocol/codec.h"
#include "tests/unit/protocol_content_util.h"

using namespace tollgate::protocol;
using tollgate::protocol::testing::require_bad_call;
using tollgate::protocol::testing::require_call;
using tollgate::protocol::testing::require_refused;
using tollgate::protocol::testing::tool_call;
using tollgate::protocol::testing::with_raw;
using nlohmann::json;

namespace {

json text(const std::string& t) { return {{"type", "text"}, {"text", t}}; }

json url_image(const std::string& url) { return {{"type", "image"}, {"source", {{"type", "url"}, {"url", url}}}}; }

json base64_image(const std::string& media_type, const std::string& data) {
  return {{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", media_type}, {"data", data}}}};
}

// tool_call() with messages[0].content set to `blocks`.
json first_content(json blocks) {
  json j = tool_call();
  j["messages"][0]["content"] = std::move(blocks);
  return j;
}

// {"a": {"a": ... 1}}: `levels` maps.
json nested(int levels) {
  json v = 1;
  for (int i = 0; i < levels; ++i) v = json{{"a", v}};
  return v;
}

std::string dotted_a(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += ".a";
  return s;
}

}  // namespace

TEST_CASE("the valid tool conversation used by these tests decodes") {
  CHECK(require_call(from_json(tool_call())).messages.size() == 3);
}

TEST_CASE("message content must be a string or a non-empty array of blocks") {
  require_bad_call(first_content(json::array()), "messages[0].content: string or non-empty array of blocks");
  require_bad_call(first_content(json{{"type", "text"}}), "messages[0].content: string or non-empty array of blocks");
  require_bad_call(first_content({"hello"}), "messages[0].content[0]: a block of type text, image, tool_use or tool_result");
  require_bad_call(first_content({{{"type", "video"}}}), "messages[0].content[0].type: a block of type text, image");
  require_bad_call(first_content({{{"text", "x"}}}), "messages[0].content[0].type: required");
}

TEST_CASE("a text block needs non-empty text") {
  require_bad_call(first_content({text("")}), "messages[0].content[0].text: non-empty string");
  require_bad_call(first_content({{{"type", "text"}}}), "messages[0].content[0].text: required; non-empty string");
  CHECK(require_call(from_json(first_content({text("a"), text("b")}))).messages[0].blocks.size() == 2);
}

TEST_CASE("an image needs a known media type and valid base64") {
  require_bad_call(first_content({base64_image("image/bmp", "AAAA")}),
                   "messages[0].content[0].source.media_type: image/jpeg, image/png, image/gif or image/webp");
  require_bad_call(first_content({text("x"), base64_image("image/png", "AAA")}),
                   "messages[0].content[1].source.data: not valid base64");
  require_bad_call(first_content({base64_image("image/png", "AA!A")}), "messages[0].content[0].source.data: not valid base64");
  require_bad_call(first_content({base64_image("image/png", "")}), "messages[0].content[0].source.data: non-empty string");
  require_bad_call(first_content({{{"type", "image"}}}), "messages[0].content[0].source: required");
  require_bad_call(first_content({{{"type", "image"}, {"source", {{"type", "file"}}}}}),
                   "messages[0].content[0].source.type: base64 or url");
  for (const char* media : {"image/jpeg", "image/png", "image/gif", "image/webp"}) {
    CHECK(require_call(from_json(first_content({base64_image(media, "AAAA")}))).messages[0].blocks.size() == 1);
  }
}

TEST_CASE("an image url must be http or https") {
  require_bad_call(first_content({url_image("ftp://example.com/a.png")}),
                   "messages[0].content[0].source.url: an http:// or https:// URL");
  require_bad_call(first_content({url_image("https://exa mple.com")}), "messages[0].content[0].source.url: an http");
  require_bad_call(first_content({url_image("https://" + std::string(kMaxUrlBytes, 'a'))}),
                   "messages[0].content[0].source.url: string of 1-2048 bytes");
  CHECK(require_call(from_json(first_content({url_image("HTTP://example.com/a.png")}))).messages[0].has_blocks());
}

TEST_CASE("tool_use blocks appear only in assistant turns") {
  json j = tool_call();
  j["messages"][0]["content"] = {{{"type", "tool_use"}, {"id", "toolu_0"}, {"name", "x"}, {"input", json::object()}}};
  require_bad_call(j, "messages[0].content[0].type: tool_use only in assistant turns");
}

TEST_CASE("tool_result blocks appear only in user turns") {
  json j = tool_call();
  j["messages"][1]["content"].push_back({{"type", "tool_result"}, {"tool_use_id", "toolu_1"}});
  require_bad_call(j, "messages[1].content[2].type: tool_result only in user turns");
}

TEST_CASE("a tool_use needs an id a valid name and an input map") {
  json j = tool_call();
  j["messages"][1]["content"][1].erase("id");
  require_bad_call(j, "messages[1].content[1].id: required");
  j = tool_call();
  j["messages"][1]["content"][1]["name"] = "get weather";
  require_bad_call(j, "messages[1].content[1].name: 1-64 chars of [A-Za-z0-9_-]");
  j = tool_call();
  j["messages"][1]["content"][1]["input"] = "Paris";
  require_bad_call(j, "messages[1].content[1].input: map (the tool's input)");
  j = tool_call();
  j["messages"][1]["content"][1]["id"] = std::string(kMaxToolIdBytes + 1, 'i');
  require_bad_call(j, "messages[1].content[1].id: string of 1-256 bytes");
}

TEST_CASE("a tool_result needs its tool_use_id") {
  json j = tool_call();
  j["messages"][2]["content"][0].erase("tool_use_id");
  require_bad_call(j, "messages[2].content[0].tool_use_id: required");
}

TEST_CASE("a tool_result answers a tool_use of the assistant turn right before it") {
  json j = tool_call();
  j["messages"][2]["content"][0]["tool_use_id"] = "toolu_9";
  require_bad_call(j, "messages[2].content[0].tool_use_id: \"toolu_9\" names no tool_use in messages[1]");
  j = tool_call();
  j["messages"][0]["content"] = {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}}};
  require_bad_call(j, "messages[0].content[0].tool_use_id: \"toolu_1\" answers no tool_use");
}

TEST_CASE("each tool_use followed by a user turn is answered there") {
  json j = tool_call();
  j["messages"][1]["content"].push_back({{"type", "tool_use"}, {"id", "toolu_2"}, {"name", "x"}, {"input", json::object()}});
  require_bad_call(j, "messages[1].content[2].id: tool_use \"toolu_2\" has no tool_result in messages[2]");
  j = tool_call();
  j["messages"][2]["content"] = "never mind";
  require_bad_call(j, "messages[1].content[1].id: tool_use \"toolu_1\" has no tool_result in messages[2]");
  j = tool_call();
  j["messages"].erase(2);
  CHECK(require_call(from_json(j)).messages.size() == 2);  // the last turn: nothing to answer yet
}

TEST_CASE("a tool_use is answered once and tool_results come first in the user turn") {
  json j = tool_call();
  j["messages"][2]["content"].push_back(j["messages"][2]["content"][0]);
  require_bad_call(j, "messages[2].content[1].tool_use_id: \"toolu_1\" is already answered by messages[2].content[0]");
  j = tool_call();
  j["messages"][2]["content"].insert(j["messages"][2]["content"].begin(), text("here"));
  require_bad_call(j, "messages[2].content[1].type: tool_result after another block");
  j = tool_call();
  j["messages"][2]["content"].push_back(text("and now?"));
  CHECK(require_call(from_json(j)).messages[2].blocks.size() == 2);
}

TEST_CASE("tool_use ids are unique in the conversation") {
  json j = tool_call();
  j["messages"].push_back(j["messages"][1]);
  j["messages"].push_back(j["messages"][2]);
  require_bad_call(j, "messages[3].content[1].id: \"toolu_1\" is already the id of messages[1].content[1]");
}

TEST_CASE("a tool_result holds a string or text and image blocks and a boolean is_error") {
  json j = tool_call();
  j["messages"][2]["content"][0]["content"] = {text("ok"), url_image("https://example.com/a.png")};
  CHECK(require_call(from_json(j)).messages[2].blocks[0].content.size() == 2);
  j["messages"][2]["content"][0]["content"] = {{{"type", "tool_use"}, {"id", "x"}, {"name", "x"}, {"input", json::object()}}};
  require_bad_call(j, "messages[2].content[0].content[0].type: a block of type text or image");
  j["messages"][2]["content"][0]["content"] = 7;
  require_bad_call(j, "messages[2].content[0].content: string or array of text and image blocks");
  j = tool_call();
  j["messages"][2]["content"][0]["is_error"] = "yes";
  require_bad_call(j, "messages[2].content[0].is_error: true or false");
}

TEST_CASE("cache_control must be a map") {
  json j = first_content({text("x")});
  j["messages"][0]["content"][0]["cache_control"] = "ephemeral";
  require_bad_call(j, "messages[0].content[0].cache_control: map");
  j["tools"][0]["cache_control"] = 1;
  j["messages"][0]["content"][0]["cache_control"] = {{"type", "ephemeral"}};
  require_bad_call(j, "tools[0].cache_control: map");
}

TEST_CASE("bin and ext values and integer keys in a tool input are refused with their path") {
  json j = tool_call();
  j["messages"][1]["content"][1]["input"] = {{"city", "Paris"}, {"blob", "__RAW__"}};
  require_refused(with_raw(j, "__RAW__", std::string("\xc4\x01\x00", 3)), ErrorCode::kBadRequest,
                  "messages[1].content[1].input.blob: bin is not a JSON value");
  require_refused(with_raw(j, "__RAW__", std::string("\xd4\x05\x07", 3)), ErrorCode::kBadRequest,
                  "messages[1].content[1].input.blob: ext is not a JSON value");
  require_refused(with_raw(j, "__RAW__", std::string("\x81\x01\x02", 3)), ErrorCode::kBadRequest,
                  "messages[1].content[1].input.blob: map keys must be strings");
  require_refused(with_raw(j, "__RAW__", std::string("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9)),
                  ErrorCode::kBadRequest, "messages[1].content[1].input.blob: not a finite number");
}

TEST_CASE("a key given twice in a tool schema is refused") {
  json j = tool_call();
  j["tools"][0]["input_schema"] = "__RAW__";
  // {"type": "object", "type": "object"} in place of the string.
  require_refused(with_raw(j, "__RAW__", "\x82\xa4type\xa6object\xa4type\xa6object"), ErrorCode::kBadRequest,
                  "tools[0].input_schema.type: given more than once");
}

TEST_CASE("system is a string or a non-empty array of text blocks") {
  json j = tool_call();
  j["system"] = {text("be brief"), text("in French")};
  CHECK(require_call(from_json(j)).system_blocks.size() == 2);
  j["system"] = json::array();
  require_bad_call(j, "system: string or non-empty array of text blocks");
  j["system"] = {text("be brief"), url_image("https://example.com/a.png")};
  require_bad_call(j, "system[1].type: a block of type text (system takes text blocks only)");
}

TEST_CASE("tools need a valid unique name and an input_schema map") {
  json j = tool_call();
  j["tools"][0]["name"] = "get.weather";
  require_bad_call(j, "tools[0].name: 1-64 chars of [A-Za-z0-9_-]");
  j["tools"][0]["name"] = std::string(65, 'n');
  require_bad_call(j, "tools[0].name: string of 1-64 bytes");
  j = tool_call();
  j["tools"].push_back(j["tools"][0]);
  require_bad_call(j, "tools[1].name: \"get_weather\" already names tools[0]");
  j = tool_call();
  j["tools"][0].erase("input_schema");
  require_bad_call(j, "tools[0].input_schema: required");
  j["tools"][0]["input_schema"] = json::array();
  require_bad_call(j, "tools[0].input_schema: map");
  j["tools"] = "get_weather";
  require_bad_call(j, "tools: array of");
}

TEST_CASE("tool_choice names its type and a tool only with type tool") {
  json j = tool_call();
  j["tool_choice"] = {{"type", "sometimes"}};
  require_bad_call(j, "tool_choice.type: auto, any, none or tool");
  j["tool_choice"] = {{"type", "auto"}, {"name", "get_weather"}};
  require_bad_call(j, "tool_choice.name: only with type tool");
  j["tool_choice"] = {{"type", "tool"}};
  require_bad_call(j, "tool_choice.name: required with type tool");
  j["tool_choice"] = {{"type", "tool"}, {"name", "get_time"}};
  require_bad_call(j, "tool_choice.name: \"get_time\" names none of the tools");
  j["tool_choice"] = "auto";
  require_bad_call(j, "tool_choice: map");
  j["tool_choice"] = {{"type", "tool"}, {"name", "get_weather"}};
  CHECK(require_call(from_json(j)).tool_choice->name == "get_weather");
}

TEST_CASE("tool_choice any and tool need tools") {
  json j = tool_call();
  j.erase("tools");
  j["messages"] = {j["messages"][0]};
  for (const char* type : {"any", "tool"}) {
    j["tool_choice"] = {{"type", type}};
    if (std::string(type) == "tool") j["tool_choice"]["name"] = "get_weather";
    require_bad_call(j, "tool_choice.type: any and tool need tools");
  }
  j["tool_choice"] = {{"type", "none"}};
  CHECK(require_call(from_json(j)).tool_choice->type == ToolChoice::Type::kNone);
}

TEST_CASE("stop_sequences are at most 8 non-empty strings of at most 256 bytes") {
  json j = tool_call();
  j["stop_sequences"] = json::array();
  for (int i = 0; i < 8; ++i) j["stop_sequences"].push_back(std::to_string(i) + "s");
  CHECK(require_call(from_json(j)).stop_sequences.size() == 8);
  j["stop_sequences"].push_back("8s");
  require_bad_call(j, "stop_sequences: array of at most 8 strings");
  j["stop_sequences"] = {"END", ""};
  require_bad_call(j, "stop_sequences[1]: non-empty string of at most 256 bytes");
  j["stop_sequences"] = {std::string(kMaxStopSequenceBytes + 1, 's')};
  require_bad_call(j, "stop_sequences[0]: non-empty string");
  j["stop_sequences"] = "END";
  require_bad_call(j, "stop_sequences: array");
}

TEST_CASE("top_p is a number from 0 to 1") {
  json j = tool_call();
  j["top_p"] = 1.5;
  require_bad_call(j, "top_p: number from 0 to 1");
  j["top_p"] = "high";
  require_bad_call(j, "top_p: number from 0 to 1");
  j["top_p"] = 1;
  CHECK(require_call(from_json(j)).top_p == 1.0);
}

TEST_CASE("more tools than the limit is too_large") {
  json j = tool_call();
  for (size_t i = 1; i <= kMaxTools; ++i) {
    j["tools"].push_back({{"name", std::to_string(i) + "t"}, {"input_schema", json::object()}});
  }
  require_refused(from_json(j), ErrorCode::kTooLarge, "tools: 129 tools is over the limit of 128");
  j["tools"].erase(kMaxTools);
  CHECK(require_call(from_json(j)).tools.size() == kMaxTools);
}

TEST_CASE("a tool input or schema nesting deeper than the limit is too_large") {
  json j = tool_call();
  j["messages"][1]["content"][1]["input"] = nested(kMaxSchemaDepth + 1);
  require_refused(from_json(j), ErrorCode::kTooLarge,
                  "messages[1].content[1].input" + dotted_a(kMaxSchemaDepth) + ": nests containers deeper than 16 levels");
  j["messages"][1]["content"][1]["input"] = nested(kMaxSchemaDepth);
  CHECK(require_call(from_json(j)).messages[1].blocks[1].input.is_object());
  j["tools"][0]["input_schema"] = nested(kMaxSchemaDepth + 1);
  require_refused(from_json(j), ErrorCode::kTooLarge, "tools[0].input_schema" + dotted_a(kMaxSchemaDepth) + ": nests");
}

TEST_CASE("more images in one call than the limit is too_large") {
  json blocks = json::array();
  for (size_t i = 0; i <= kMaxImagesPerCall; ++i) blocks.push_back(url_image("https://example.com/" + std::to_string(i)));
  require_refused(from_json(first_content(blocks)), ErrorCode::kTooLarge,
                  "messages[0].content[100]: more than 100 images in one call");
  blocks.erase(kMaxImagesPerCall);
  CHECK(require_call(from_json(first_content(blocks))).messages[0].blocks.size() == kMaxImagesPerCall);
}

TEST_CASE("an image over the byte limit is too_large") {
  DecodeLimits limits;
  limits.max_request_bytes = 16 << 20;
  std::string data;
  for (size_t i = 0; i < kMaxImageBytes / 3; ++i) data += "AAAA";
  const std::string at_limit = data + "AAA=";  // kMaxImageBytes / 3 * 3 + 2 == kMaxImageBytes
  static_assert(kMaxImageBytes % 3 == 2);
  CHECK(require_call(from_json(first_content({base64_image("image/png", at_limit)})), limits).messages[0].has_blocks());
  require_refused(from_json(first_content({base64_image("image/png", data + "AAAA")})), ErrorCode::kTooLarge,
                  "messages[0].content[0].source.data: an image of 5242881 bytes is over the limit of 5242880", limits);
}
