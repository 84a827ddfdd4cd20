// The fingerprint of a call request (daemon/core/call_fingerprint.h): equal for
// the same content, different when any field a provider would see differs.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "daemon/core/call_fingerprint.h"

using tollgate::call_fingerprint;
using tollgate::protocol::CallRequest;

namespace {

CallRequest base_request() {
  CallRequest r;
  r.ai_name = "imperium";
  r.messages = {{"user", "hello"}, {"assistant", "hi"}, {"user", "summarise"}};
  r.system = "be brief";
  r.max_tokens = 300;
  r.temperature = 0.5;
  r.model = "claude-test";
  r.preferred_provider = "anthropic";
  r.idempotency_key = "order-42";
  return r;
}

}  // namespace

TEST_CASE("the same call content gives the same 32 byte fingerprint") {
  const auto a = call_fingerprint(base_request());
  CHECK(a.size() == tollgate::kCallFingerprintBytes);
  CHECK(call_fingerprint(base_request()) == a);
}

TEST_CASE("the request id and timeout and key of a repeat do not change the fingerprint") {
  CallRequest repeat = base_request();
  repeat.timeout_ms = 5000;
  repeat.idempotency_key = "another-key";
  CHECK(call_fingerprint(repeat) == call_fingerprint(base_request()));
}

TEST_CASE("every field a provider would see changes the fingerprint") {
  const std::vector<std::function<void(CallRequest&)>> changes = {
      [](CallRequest& r) { r.ai_name = "guardian"; },
      [](CallRequest& r) { r.messages[2].content = "summarise it"; },
      [](CallRequest& r) { r.messages[1].role = "user"; },
      [](CallRequest& r) { r.messages.pop_back(); },
      [](CallRequest& r) { r.system = "be long"; },
      [](CallRequest& r) { r.system.reset(); },
      [](CallRequest& r) { r.max_tokens = 301; },
      [](CallRequest& r) { r.max_tokens.reset(); },
      [](CallRequest& r) { r.temperature = 0.6; },
      [](CallRequest& r) { r.model = "gpt-test"; },
      [](CallRequest& r) { r.preferred_provider = "openai"; },
      [](CallRequest& r) { r.preferred_provider.reset(); },
  };
  const auto original = call_fingerprint(base_request());
  for (size_t i = 0; i < changes.size(); ++i) {
    INFO("change " << i);
    CallRequest r = base_request();
    changes[i](r);
    CHECK(call_fingerprint(r) != original);
  }
}

TEST_CASE("field boundaries are part of the fingerprint") {
  // Concatenated, these would be the same bytes.
  CallRequest a;
  a.ai_name = "imperium";
  a.prompt = "ab";
  a.system = "c";
  CallRequest b;
  b.ai_name = "imperium";
  b.prompt = "a";
  b.system = "bc";
  CHECK(call_fingerprint(a) != call_fingerprint(b));
}

namespace {

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

using tollgate::protocol::ContentBlock;
using tollgate::protocol::JsonValue;
using tollgate::protocol::ToolChoice;
using tollgate::protocol::ToolSpec;

ContentBlock tool_use(std::string id) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolUse;
  b.id = std::move(id);
  b.name = "get_weather";
  b.input = JsonValue::parse(R"({"city": "Paris", "days": 2})");
  return b;
}

ContentBlock tool_result(std::string id, std::string text) {
  ContentBlock b;
  b.type = ContentBlock::Type::kToolResult;
  b.tool_use_id = std::move(id);
  b.content = {ContentBlock::make_text(std::move(text))};
  b.content_is_string = true;
  return b;
}

// A two-turn tool conversation with every section 8 field.
CallRequest tool_request() {
  CallRequest r = base_request();
  r.messages.clear();
  r.messages.push_back({"user", "weather in Paris?", {}});
  r.messages.push_back({"assistant", "", {tool_use("toolu_1")}});
  r.messages.push_back({"user", "", {tool_result("toolu_1", "sunny")}});
  ToolSpec weather;
  weather.name = "get_weather";
  weather.description = "the forecast";
  weather.input_schema = JsonValue::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}})");
  r.tools = {weather};
  r.tool_choice = ToolChoice{ToolChoice::Type::kAuto, ""};
  r.stop_sequences = {"END"};
  r.top_p = 0.9;
  return r;
}

}  // namespace

TEST_CASE("a text only call hashes exactly as before section 8 so stored records still match") {
  // Computed by the daemon before section 8 (call/1) for base_request().
  CHECK(hex(call_fingerprint(base_request())) == "13cba6a9eb8e881317cd129a3de8215ef4dae3b143d2b878850c10744baa5012");
}

TEST_CASE("a call with tools hashes under a new version and differs from its text alone") {
  CallRequest tools = tool_request();
  CHECK(call_fingerprint(tools) == call_fingerprint(tool_request()));
  CallRequest text_only = base_request();
  text_only.messages = {{"user", "weather in Paris?", {}}};
  CallRequest only_top_p = text_only;
  only_top_p.top_p = 0.9;
  CHECK(call_fingerprint(only_top_p) != call_fingerprint(text_only));
}

TEST_CASE("every section 8 part a provider would see changes the fingerprint") {
  const std::vector<std::function<void(CallRequest&)>> changes = {
      [](CallRequest& r) { r.messages[1].blocks[0].input["days"] = 3; },
      [](CallRequest& r) { r.messages[1].blocks[0].name = "get_forecast"; },
      [](CallRequest& r) { r.messages[1].blocks[0].id = "toolu_2"; },
      [](CallRequest& r) { r.messages[2].blocks[0].content[0].text = "rainy"; },
      [](CallRequest& r) { r.messages[2].blocks[0].is_error = true; },
      [](CallRequest& r) { r.messages[2].blocks[0].content_is_string = false; },
      [](CallRequest& r) { r.messages[0].blocks = {ContentBlock::make_text("weather in Paris?")}; },
      [](CallRequest& r) { r.messages[0].blocks = {ContentBlock::make_text("weather in Paris?")};
                           r.messages[0].blocks[0].cache_control = JsonValue::parse(R"({"type": "ephemeral"})"); },
      [](CallRequest& r) { r.tools[0].description = "the weather"; },
      [](CallRequest& r) { r.tools[0].input_schema["required"] = JsonValue::array({"city"}); },
      [](CallRequest& r) { r.tools.push_back(r.tools[0]); r.tools[1].name = "other"; },
      [](CallRequest& r) { r.tool_choice = ToolChoice{ToolChoice::Type::kAny, ""}; },
      [](CallRequest& r) { r.tool_choice.reset(); },
      [](CallRequest& r) { r.stop_sequences = {"STOP"}; },
      [](CallRequest& r) { r.stop_sequences.clear(); },
      [](CallRequest& r) { r.top_p = 0.5; },
      [](CallRequest& r) { r.system.reset(); r.system_blocks = {ContentBlock::make_text("be brief")}; },
  };
  const auto original = call_fingerprint(tool_request());
  for (size_t i = 0; i < changes.size(); ++i) {
    INFO("change " << i);
    CallRequest r = tool_request();
    changes[i](r);
    CHECK(call_fingerprint(r) != original);
  }
}

TEST_CASE("the key order of a tool schema is part of the fingerprint") {
  CallRequest a = tool_request();
  CallRequest b = tool_request();
  b.tools[0].input_schema = JsonValue::parse(R"({"properties": {"city": {"type": "string"}}, "type": "object"})");
  CHECK(call_fingerprint(a) != call_fingerprint(b));
}

TEST_CASE("the timeout and key of a repeat with tools do not change the fingerprint") {
  CallRequest repeat = tool_request();
  repeat.timeout_ms = 5000;
  repeat.idempotency_key = "another-key";
  CHECK(call_fingerprint(repeat) == call_fingerprint(tool_request()));
}

TEST_CASE("a streamed call and the same call unstreamed have the same fingerprint") {
  // Section 9: a repeat of a streamed call with the same key matches the
  // stored record whether the repeat streams or not.
  CallRequest streamed = base_request();
  streamed.stream = true;
  CHECK(call_fingerprint(streamed) == call_fingerprint(base_request()));
  CHECK(hex(call_fingerprint(streamed)) ==
        "13cba6a9eb8e881317cd129a3de8215ef4dae3b143d2b878850c10744baa5012");
  CallRequest tools_streamed = tool_request();
  tools_streamed.stream = true;
  CHECK(call_fingerprint(tools_streamed) == call_fingerprint(tool_request()));
}
