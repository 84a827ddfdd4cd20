// PROTOCOL.md section 8 in the codec: every block kind and call field
// round trips through encode_request and decode_request, tool inputs keep
// their key order, replies carry content, stop_reason and cache counts and
// decode back from storage (also when written before section 8), and the
// JSON bridge carries all of it.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "protocol/codec.h"
#include "tests/unit/protocol_content_util.h"
#include "tests/unit/protocol_test_util.h"

using namespace tollgate::protocol;
using tollgate::protocol::testing::from_hex;
using tollgate::protocol::testing::json_of;
using tollgate::protocol::testing::require_call;
using tollgate::protocol::testing::to_hex;
using tollgate::protocol::testing::tool_call;
using nlohmann::json;

namespace {

ContentBlock image_block(ImageSource::Kind kind) {
  ContentBlock b;
  b.type = ContentBlock::Type::kImage;
  b.image.kind = kind;
  if (kind == ImageSource::Kind::kBase64) {
    b.image.media_type = "image/png";
    b.image.data = "iVBORw0KGgo=";
  } else {
    b.image.url = "https://example.com/cat.jpg";
  }
  return b;
}

ContentBlock tool_use_block(std::string id, std::string input) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolUse;
  b.id = std::move(id);
  b.name = "get_weather";
  b.input = JsonValue::parse(input);
  return b;
}

ContentBlock tool_result_block(std::string id, std::vector<ContentBlock> content, bool is_string) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolResult;
  b.tool_use_id = std::move(id);
  b.content = std::move(content);
  b.content_is_string = is_string;
  return b;
}

// Every block kind, every source kind, every optional part.
CallRequest full_call() {
  CallRequest r;
  r.ai_name = "imperium";
  ContentBlock cached = ContentBlock::make_text("be brief");
  cached.cache_control = JsonValue::parse(R"({"type": "ephemeral"})");
  r.system_blocks = {cached, ContentBlock::make_text("answer in French")};
  r.messages.push_back({"user", "", {ContentBlock::make_text("what is this?"), image_block(ImageSource::Kind::kBase64),
                                     image_block(ImageSource::Kind::kUrl)}});
  r.messages.push_back({"assistant", "",
                        {ContentBlock::make_text("let me look"),
                         tool_use_block("toolu_1", R"({"zeta": 1, "alpha": [1.5, -2, true, null, "x"]})"),
                         tool_use_block("toolu_2", R"({})")}});
  ContentBlock failed = tool_result_block("toolu_2", {}, false);
  failed.is_error = true;
  r.messages.push_back({"user", "",
                        {tool_result_block("toolu_1", {ContentBlock::make_text("sunny")}, true),
                         failed, ContentBlock::make_text("and now?")}});
  r.messages.push_back({"assistant", "", {tool_use_block("toolu_3", R"({"nested": {"deep": [{"k": "v"}]}})")}});
  r.messages.push_back({"user", "",
                        {tool_result_block("toolu_3", {ContentBlock::make_text("a chart"),
                                                       image_block(ImageSource::Kind::kBase64)}, false)}});
  ToolSpec weather;
  weather.name = "get_weather";
  weather.description = "the forecast";
  weather.input_schema = JsonValue::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}})");
  weather.cache_control = JsonValue::parse(R"({"type": "ephemeral"})");
  ToolSpec bare;
  bare.name = "no-description_2";
  bare.input_schema = JsonValue::parse(R"({"type": "object"})");
  r.tools = {weather, bare};
  r.tool_choice = ToolChoice{ToolChoice::Type::kTool, "get_weather"};
  r.stop_sequences = {"END", "\n\nHuman:"};
  r.top_p = 0.25;
  r.max_tokens = 200;
  return r;
}

CallRequest round_trip(const CallRequest& r) {
  const std::string bytes = encode_request(RequestId::from_int(3), r);
  INFO(to_hex(bytes));
  return require_call(bytes);
}

CallReply tool_reply() {
  CallReply r;
  r.text = "checking";
  r.provider = "anthropic";
  r.model = "claude-test";
  r.reason = "primary";
  r.usage = {120, 30, 150};
  r.usage.cache_creation_input_tokens = 100;
  r.usage.cache_read_input_tokens = 0;
  r.cost_usd = 0.01;
  r.attempts = {{"anthropic", "ok", std::nullopt, 20.5}};
  r.latency_ms = 21;
  r.content = {ContentBlock::make_text("checking"),
               tool_use_block("toolu_9", R"({"city": "Paris", "when": {"day": 2, "hours": [8, 20]}})")};
  r.stop_reason = StopReason::kToolUse;
  return r;
}

// The golden call reply of protocol_codec_test as the daemon wrote it
// before section 8: no content, no stop_reason, no cache counts.
const char* const kOldStoredReply =
    "8c a1 76 01 a2 69 64 07 a2 6f 6b c3 a4 74 65 78 74 a2 6f 6b a8 70 72 6f 76 69 64 65 72 a9"
    " 61 6e 74 68 72 6f 70 69 63 a5 6d 6f 64 65 6c a1 6d a6 72 65 61 73 6f 6e a7 70 72 69 6d 61"
    " 72 79 a5 75 73 61 67 65 83 ac 69 6e 70 75 74 5f 74 6f 6b 65 6e 73 01 ad 6f 75 74 70 75 74"
    " 5f 74 6f 6b 65 6e 73 02 ac 74 6f 74 61 6c 5f 74 6f 6b 65 6e 73 03 a8 63 6f 73 74 5f 75 73"
    " 64 cb 3f e0 00 00 00 00 00 00 a8 61 74 74 65 6d 70 74 73 91 84 a8 70 72 6f 76 69 64 65 72"
    " a9 61 6e 74 68 72 6f 70 69 63 a7 6f 75 74 63 6f 6d 65 a2 6f 6b a4 63 6f 64 65 c0 aa 6c 61"
    " 74 65 6e 63 79 5f 6d 73 cb 3f f8 00 00 00 00 00 00 aa 6c 61 74 65 6e 63 79 5f 6d 73 cb 40"
    " 00 00 00 00 00 00 00 a8 72 65 70 6c 61 79 65 64 c2";

}  // namespace

TEST_CASE("every block kind and every section 8 field round trips through encode and decode") {
  const CallRequest r = full_call();
  REQUIRE(r.full_fidelity());
  CHECK(round_trip(r) == r);
}

TEST_CASE("each tool choice type round trips") {
  for (auto type : {ToolChoice::Type::kAuto, ToolChoice::Type::kAny, ToolChoice::Type::kNone}) {
    CallRequest r = full_call();
    r.tool_choice = ToolChoice{type, ""};
    CHECK(round_trip(r) == r);
  }
}

TEST_CASE("a text only call writes none of the section 8 keys") {
  CallRequest r;
  r.ai_name = "imperium";
  r.messages = {{"user", "hi", {}}, {"assistant", "hello", {}}};
  r.system = "be brief";
  const json j = json_of(encode_request(RequestId{}, r));
  CHECK(j == json{{"v", 1}, {"op", "call"}, {"ai_name", "imperium"}, {"system", "be brief"},
                  {"messages", {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "hello"}}}}});
  CHECK_FALSE(r.full_fidelity());
  CHECK(round_trip(r) == r);
}

TEST_CASE("blocks encode in the anthropic messages shape") {
  const json j = json_of(encode_request(RequestId{}, full_call()));
  INFO(j.dump());
  CHECK(j["system"][0] == json{{"type", "text"}, {"text", "be brief"}, {"cache_control", {{"type", "ephemeral"}}}});
  CHECK(j["messages"][0]["content"][1]["source"] ==
        json{{"type", "base64"}, {"media_type", "image/png"}, {"data", "iVBORw0KGgo="}});
  CHECK(j["messages"][0]["content"][2]["source"] == json{{"type", "url"}, {"url", "https://example.com/cat.jpg"}});
  CHECK(j["messages"][1]["content"][2] ==
        json{{"type", "tool_use"}, {"id", "toolu_2"}, {"name", "get_weather"}, {"input", json::object()}});
  CHECK(j["messages"][2]["content"][0] == json{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "sunny"}});
  CHECK(j["messages"][2]["content"][1] == json{{"type", "tool_result"}, {"tool_use_id", "toolu_2"}, {"is_error", true}});
  CHECK(j["tools"][1] == json{{"name", "no-description_2"}, {"input_schema", {{"type", "object"}}}});
  CHECK(j["tool_choice"] == json{{"type", "tool"}, {"name", "get_weather"}});
  CHECK(j["stop_sequences"] == json{"END", "\n\nHuman:"});
  CHECK(j["top_p"] == 0.25);
}

TEST_CASE("tool input and schema keys keep the order the client gave") {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(tool_call().dump());
  j["messages"][1]["content"][1]["input"] = nlohmann::ordered_json::parse(R"({"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}})");
  j["tools"][0]["input_schema"] = nlohmann::ordered_json::parse(R"({"type": "object", "required": ["z"], "properties": {"z": {}, "a": {}}})");
  const CallRequest r = require_call(from_ordered_json(j));
  CHECK(r.messages[1].blocks[1].input.dump() == R"({"zeta":1,"alpha":2,"mid":{"b":1,"a":2}})");
  CHECK(r.tools[0].input_schema.dump() == R"({"type":"object","required":["z"],"properties":{"z":{},"a":{}}})");
  const CallRequest again = round_trip(r);
  CHECK(again.messages[1].blocks[1].input.dump() == r.messages[1].blocks[1].input.dump());
  CHECK(again.tools[0].input_schema.dump() == r.tools[0].input_schema.dump());
}

TEST_CASE("json values pack with floats as float64 and integers in their smallest form") {
  ContentBlock b = tool_use_block("t", R"({"f": 2.0, "i": 5, "n": -1, "big": 70000})");
  CallRequest r = full_call();
  r.messages[1].blocks[1] = b;
  r.messages[2].blocks[0].tool_use_id = "t";
  const std::string bytes = encode_request(RequestId{}, r);
  // "f" cb <float64 2.0>, "i" 05, "n" ff, "big" ce 00 01 11 70
  CHECK(to_hex(bytes).find("a1 66 cb 40 00 00 00 00 00 00 00 a1 69 05 a1 6e ff a3 62 69 67 ce 00 01 11 70") !=
        std::string::npos);
  CHECK(round_trip(r) == r);
}

TEST_CASE("a call with tools given as json through from_json decodes") {
  const CallRequest r = require_call(from_json(tool_call()));
  REQUIRE(r.messages.size() == 3);
  CHECK(r.messages[0].content == "weather in Paris?");
  CHECK_FALSE(r.messages[0].has_blocks());
  REQUIRE(r.messages[1].blocks.size() == 2);
  CHECK(r.messages[1].blocks[1].type == ContentBlock::Type::kToolUse);
  CHECK(r.messages[1].blocks[1].input == JsonValue{{"city", "Paris"}});
  REQUIRE(r.messages[2].blocks.size() == 1);
  CHECK(r.messages[2].blocks[0].tool_use_id == "toolu_1");
  CHECK(r.messages[2].blocks[0].content_is_string);
  CHECK(r.messages[2].blocks[0].content == std::vector<ContentBlock>{ContentBlock::make_text("sunny")});
  REQUIRE(r.tools.size() == 1);
  CHECK(r.tools[0].name == "get_weather");
  CHECK(r.tools[0].description == "the forecast");
  CHECK(r.full_fidelity());
}

TEST_CASE("a call reply writes content and stop_reason and the cache counts when set") {
  const json j = json_of(encode_reply(RequestId::from_int(1), tool_reply()));
  INFO(j.dump());
  CHECK(j["content"] == json::array({{{"type", "text"}, {"text", "checking"}},
                                     {{"type", "tool_use"}, {"id", "toolu_9"}, {"name", "get_weather"},
                                      {"input", {{"city", "Paris"}, {"when", {{"day", 2}, {"hours", {8, 20}}}}}}}}));
  CHECK(j["stop_reason"] == "tool_use");
  CHECK(j["usage"] == json{{"input_tokens", 120}, {"output_tokens", 30}, {"total_tokens", 150},
                           {"cache_creation_input_tokens", 100}, {"cache_read_input_tokens", 0}});

  CallReply unknown = tool_reply();
  unknown.stop_reason.reset();
  unknown.usage.cache_creation_input_tokens.reset();
  unknown.usage.cache_read_input_tokens.reset();
  const json u = json_of(encode_reply(RequestId::from_int(1), unknown));
  CHECK(u.contains("stop_reason"));
  CHECK(u["stop_reason"].is_null());
  CHECK(u["usage"] == json{{"input_tokens", 120}, {"output_tokens", 30}, {"total_tokens", 150}});
}

TEST_CASE("reply_json writes content as the msgpack encoding converted") {
  for (const RequestId& id : {RequestId{}, RequestId::from_string("r")}) {
    CallReply r = tool_reply();
    CHECK(reply_json(id, r).dump() == json_of(encode_reply(id, r)).dump());
    r.usage.cache_read_input_tokens.reset();
    r.stop_reason.reset();
    CHECK(reply_json(id, r).dump() == json_of(encode_reply(id, r)).dump());
  }
  CHECK(reply_json(RequestId{}, tool_reply())["content"][1]["input"]["city"] == "Paris");
}

TEST_CASE("a stored reply with content and stop reason and cache counts decodes back to its value") {
  const CallReply r = tool_reply();
  auto decoded = decode_call_reply(encode_reply(RequestId::from_int(4), r));
  if (!decoded) INFO(decoded.error().message);
  REQUIRE(decoded.ok());
  CHECK(*decoded == r);
  for (auto reason : {StopReason::kEndTurn, StopReason::kMaxTokens, StopReason::kStopSequence,
                      StopReason::kToolUse, StopReason::kRefusal}) {
    CallReply s = r;
    s.stop_reason = reason;
    s.usage.cache_creation_input_tokens.reset();
    auto again = decode_call_reply(encode_reply(RequestId{}, s));
    REQUIRE(again.ok());
    CHECK(*again == s);
  }
}

TEST_CASE("a stored reply keeps a tool input deeper than requests may send") {
  CallReply r = tool_reply();
  std::string deep = "1";
  for (int i = 0; i < 30; ++i) deep = R"({"a": )" + deep + "}";
  r.content[1].input = JsonValue::parse(deep);
  auto decoded = decode_call_reply(encode_reply(RequestId{}, r));
  if (!decoded) INFO(decoded.error().message);
  REQUIRE(decoded.ok());
  CHECK(*decoded == r);
}

TEST_CASE("a reply stored before section 8 still decodes with no content and no stop reason") {
  auto decoded = decode_call_reply(from_hex(kOldStoredReply));
  if (!decoded) INFO(decoded.error().message);
  REQUIRE(decoded.ok());
  CHECK(decoded->text == "ok");
  CHECK(decoded->usage.total_tokens == 3);
  CHECK(decoded->content.empty());
  CHECK_FALSE(decoded->stop_reason.has_value());
  CHECK_FALSE(decoded->usage.cache_read_input_tokens.has_value());
}

TEST_CASE("a stored reply with a broken content block or stop reason does not decode") {
  json j = json_of(encode_reply(RequestId{}, tool_reply()));
  json bad_block = j;
  bad_block["content"][1].erase("input");
  auto refused = decode_call_reply(from_json(bad_block));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.rfind("content[1].input: required", 0) == 0);
  json bad_reason = j;
  bad_reason["stop_reason"] = "bored";
  refused = decode_call_reply(from_json(bad_reason));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.rfind("stop_reason: end_turn, max_tokens", 0) == 0);
}
