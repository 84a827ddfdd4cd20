// The fake-provider binary with tools: the 400s each API answers for bad
// tool, image and block parts, forced and marker tool calls, a two-turn
// tool conversation, stop sequences.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/fake_provider_client.h"
#include "tests/integration/test_images.h"

using nlohmann::json;
using tollgate::testing::call;
using tollgate::testing::FakeProviderProcess;

namespace {

const json kWeather = {
    {"name", "get_weather"},
    {"description", "The weather in a city"},
    {"input_schema",
     {{"type", "object"},
      {"properties", {{"city", {{"type", "string"}}}, {"days", {{"type", "integer"}}}}},
      {"required", json::array({"city"})}}}};
const json kClock = {{"name", "get_clock"}, {"input_schema", {{"type", "object"}}}};

json msg(const std::string& role, const json& content) { return {{"role", role}, {"content", content}}; }
json blocks(const std::string& role, const std::vector<json>& content) { return msg(role, json(content)); }
json text(const std::string& t) { return {{"type", "text"}, {"text", t}}; }
json tool_use(const std::string& id) {
  return {{"type", "tool_use"}, {"id", id}, {"name", "get_weather"}, {"input", {{"city", "Oslo"}}}};
}
json tool_result(const std::string& id) {
  return {{"type", "tool_result"}, {"tool_use_id", id}, {"content", "rain"}};
}

json anthropic(const std::vector<json>& messages) {
  return {{"model", "claude-test"}, {"max_tokens", 50}, {"tools", json::array({kWeather, kClock})}, {"messages", json(messages)}};
}

json openai_tool(const json& anthropic_tool) {
  json f = {{"name", anthropic_tool["name"]}, {"parameters", anthropic_tool["input_schema"]}};
  return {{"type", "function"}, {"function", f}};
}

json openai(const std::vector<json>& messages) {
  return {{"model", "gpt-test"}, {"tools", json::array({openai_tool(kWeather), openai_tool(kClock)})}, {"messages", json(messages)}};
}

json tool_call(const std::string& id) {
  return {{"id", id}, {"type", "function"}, {"function", {{"name", "get_weather"}, {"arguments", "{}"}}}};
}

json image(const std::string& media_type, const std::string& data) {
  return {{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", media_type}, {"data", data}}}};
}

struct BadAnthropic {
  json body;
  std::string message;  // the start of the error message
};

struct BadOpenAi {
  json body;
  json param;
  json code;
  std::string message;  // a part of the error message
};

}  // namespace

TEST_CASE("anthropic requests with bad tool image and block parts get the real 400 messages") {
  const json u = msg("user", "hi");
  json no_schema = anthropic({u});
  no_schema["tools"][0].erase("input_schema");
  json bad_name = anthropic({u});
  bad_name["tools"][0]["name"] = "get weather";
  json unknown_choice = anthropic({u});
  unknown_choice["tool_choice"] = {{"type", "tool"}, {"name", "nope"}};
  json odd_choice = anthropic({u});
  odd_choice["tool_choice"] = {{"type", "sometimes"}};
  json no_tools = anthropic({u});
  no_tools.erase("tools");
  no_tools["tool_choice"] = {{"type", "any"}};
  json blank_stop = anthropic({u});
  blank_stop["stop_sequences"] = json::array({" "});
  json cached = text("hi");
  cached["cache_control"] = {{"type", "forever"}};
  const std::string png = tollgate::testing::base64(tollgate::testing::png_header(10, 10));
  const std::vector<BadAnthropic> cases = {
      {anthropic({blocks("user", {tool_use("toolu_1")})}), "messages.0.content.0: tool_use blocks can only be in assistant messages"},
      {anthropic({u, blocks("assistant", {tool_result("toolu_1")})}), "messages.1.content.0: tool_result blocks can only be in user messages"},
      {anthropic({u, blocks("assistant", {tool_use("toolu_1")}), blocks("user", {tool_result("toolu_2")})}),
       "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2. Each"},
      {anthropic({blocks("user", {tool_result("toolu_1")})}), "messages.0.content.0: unexpected `tool_use_id`"},
      {anthropic({u, blocks("assistant", {tool_use("toolu_1")}), blocks("user", {text("thanks")})}),
       "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1."},
      {anthropic({u, blocks("assistant", {tool_use("toolu_1")}), blocks("user", {text("thanks"), tool_result("toolu_1")})}),
       "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after"},
      {anthropic({u, blocks("assistant", {tool_use("toolu_1"), tool_use("toolu_2")}), blocks("user", {tool_result("toolu_1")})}),
       "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_2."},
      {anthropic({u, blocks("assistant", {tool_use("toolu_1")})}), "messages.1: `tool_use` ids were found without"},
      {anthropic({u, blocks("assistant", {{{"type", "tool_use"}, {"id", "t1"}, {"name", "get_weather"}, {"input", "Oslo"}}})}),
       "messages.1.content.0.tool_use.input: Input should be a valid dictionary"},
      {no_schema, "tools.0.custom.input_schema: Field required"},
      {bad_name, "tools.0.custom.name: String should match pattern"},
      {unknown_choice, "tool_choice.tool.name: tool 'nope' is not one of the tools provided"},
      {odd_choice, "tool_choice: Input tag 'sometimes' found using 'type' does not match"},
      {no_tools, "tool_choice: tool_choice may only be specified while providing tools"},
      {blank_stop, "stop_sequences: each stop sequence must contain non-whitespace"},
      {anthropic({blocks("user", {cached})}), "messages.0.content.0.cache_control.type: Input should be 'ephemeral'"},
      {anthropic({blocks("user", {image("image/bmp", png)})}),
       "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"},
      {anthropic({blocks("user", {image("image/jpeg", png)})}),
       "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/jpeg"},
      {anthropic({blocks("user", {image("image/png", "not base64!")})}), "messages.0.content.0.image.source.base64.data: invalid base64 data"},
      {anthropic({blocks("user", {image("image/png", "aGVsbG8=")})}), "messages.0.content.0.image.source.base64.data: Could not process image"},
      {anthropic({blocks("user", {{{"type", "image"}, {"source", {{"type", "url"}, {"url", "ftp://x/y.png"}}}}})}),
       "messages.0.content.0.image.source.url.url: Input should be a valid URL"},
      {anthropic({blocks("user", {{{"type", "video"}}})}), "messages.0.content.0: Input tag 'video' found using 'type'"},
  };
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  for (const auto& bad : cases) {
    INFO(bad.message);
    json j = call(c, "/v1/messages", bad.body, 400);
    CHECK(j["type"] == "error");
    CHECK(j["error"]["type"] == "invalid_request_error");
    const std::string message = j["error"]["message"];
    CHECK(message.substr(0, bad.message.size()) == bad.message);
  }
  CHECK(tollgate::testing::stats(c)["anthropic"]["errors"] == cases.size());
}

TEST_CASE("openai requests with bad tool image and message parts get the real 400 errors") {
  const json u = msg("user", "hi");
  const json asked = {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({tool_call("call_1"), tool_call("call_2")})}};
  auto answer = [](const std::string& id) { return json{{"role", "tool"}, {"tool_call_id", id}, {"content", "rain"}}; };
  json object_args = openai({u, asked, answer("call_1"), answer("call_2")});
  object_args["messages"][1]["tool_calls"][0]["function"]["arguments"] = json::object();
  json retrieval = openai({u, asked, answer("call_1"), answer("call_2")});
  retrieval["messages"][1]["tool_calls"][0]["type"] = "retrieval";
  json no_function = openai({u});
  no_function["tools"][0].erase("function");
  json bad_name = openai({u});
  bad_name["tools"][0]["function"]["name"] = "get weather";
  json number_description = openai({u});
  number_description["tools"][0]["function"]["description"] = 7;
  json odd_choice = openai({u});
  odd_choice["tool_choice"] = "sometimes";
  json no_tools = openai({u});
  no_tools.erase("tools");
  no_tools["tool_choice"] = "auto";
  json unknown_choice = openai({u});
  unknown_choice["tool_choice"] = {{"type", "function"}, {"function", {{"name", "nope"}}}};
  json five_stops = openai({u});
  five_stops["stop"] = json::array({"a", "b", "c", "d", "e"});
  json robot = openai({msg("robot", "beep")});
  json unanswered_tool = openai({u, asked, answer("call_1"), answer("call_2")});
  unanswered_tool["messages"][3].erase("tool_call_id");
  auto image_part = [](const std::string& url) { return json{{"type", "image_url"}, {"image_url", {{"url", url}}}}; };
  const std::string png_url = "data:image/png;base64," + tollgate::testing::base64(tollgate::testing::png_header(8, 8));
  const std::vector<BadOpenAi> cases = {
      {openai({u, asked, answer("call_1"), answer("call_3")}), "messages.[3].role", nullptr, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."},
      {openai({u, answer("call_1")}), "messages.[1].role", nullptr, "must be a response to a preceeding message with 'tool_calls'"},
      {openai({u, asked, answer("call_1")}), "messages.[1].role", nullptr, "The following tool_call_ids did not have response messages: call_2"},
      {openai({u, asked, answer("call_1"), u}), "messages.[1].role", nullptr, "did not have response messages: call_2"},
      {object_args, "messages[1].tool_calls[0].function.arguments", "invalid_type", "expected a string, but got an object instead"},
      {retrieval, "messages[1].tool_calls[0].type", "invalid_value", "Supported values are: 'function'"},
      {unanswered_tool, "messages[3].tool_call_id", "missing_required_parameter", "Missing required parameter"},
      {no_function, "tools[0].function", "missing_required_parameter", "Missing required parameter: 'tools[0].function'."},
      {bad_name, "tools[0].function.name", "invalid_value", "string does not match pattern"},
      {number_description, "tools[0].function.description", "invalid_type", "expected a string, but got a number"},
      {odd_choice, "tool_choice", "invalid_value", "Supported values are: 'none', 'auto', and 'required'."},
      {no_tools, "tool_choice", nullptr, "'tool_choice' is only allowed when 'tools' are specified."},
      {unknown_choice, "tool_choice.function.name", "invalid_value", "function 'nope'"},
      {five_stops, "stop", "array_above_max_length", "Expected an array with maximum length 4, but got an array with length 5 instead."},
      {robot, "messages[0].role", "invalid_value", "Supported values are"},
      {openai({u, blocks("assistant", {image_part(png_url)})}), "messages[1].content[0].type", "invalid_value",
       "Image URLs are only allowed for messages with role 'user'"},
      {openai({blocks("user", {image_part("data:text/plain;base64,aGk=")})}), "messages[0].content[0].image_url.url", "invalid_value",
       "Expected a base64-encoded data URL with an image MIME type"},
      {openai({blocks("user", {image_part("data:image/png;base64,aGVsbG8=")})}), nullptr, "invalid_image_format", "You uploaded an unsupported image."},
  };
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  for (const auto& bad : cases) {
    INFO(bad.message);
    json e = call(c, "/v1/chat/completions", bad.body, 400)["error"];
    CHECK(e["type"] == "invalid_request_error");
    CHECK(e["param"] == bad.param);
    CHECK(e["code"] == bad.code);
    CHECK_THAT(e["message"].get<std::string>(), Catch::Contains(bad.message));
  }
  CHECK(tollgate::testing::stats(c)["openai"]["errors"] == cases.size());
}

TEST_CASE("a forced anthropic tool choice answers a tool_use block built from the input schema") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = anthropic({msg("user", "What is the weather")});
  body["tool_choice"] = {{"type", "any"}};
  json j = call(c, "/v1/messages", body);
  CHECK(j["stop_reason"] == "tool_use");
  REQUIRE(j["content"].size() == 1);
  const json& block = j["content"][0];
  CHECK(block["type"] == "tool_use");
  CHECK(block["id"].get<std::string>().rfind("toolu_", 0) == 0);
  CHECK(block["name"] == "get_weather");
  CHECK(block["input"] == json{{"city", "fake"}});

  body["tool_choice"] = {{"type", "tool"}, {"name", "get_clock"}};
  json named = call(c, "/v1/messages", body);
  CHECK(named["content"] == json::array({{{"type", "tool_use"}, {"id", named["content"][0]["id"]},
                                          {"name", "get_clock"}, {"input", json::object()}}}));
  CHECK(named["content"][0]["id"] != block["id"]);
}

TEST_CASE("anthropic call_tool markers answer one tool_use block each and parallel calls can be turned off") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = anthropic({msg("user", "Plan it [call_tool get_weather {\"city\": \"Oslo\", \"days\": 2}] "
                                     "and [call_tool get_clock]")});
  json j = call(c, "/v1/messages", body);
  CHECK(j["stop_reason"] == "tool_use");
  REQUIRE(j["content"].size() == 3);
  CHECK(j["content"][0] == text("calling get_weather, get_clock"));
  CHECK(j["content"][1]["name"] == "get_weather");
  CHECK(j["content"][1]["input"] == json{{"city", "Oslo"}, {"days", 2}});
  CHECK(j["content"][2]["name"] == "get_clock");
  CHECK(j["content"][2]["input"] == json::object());
  CHECK(j["content"][1]["id"] != j["content"][2]["id"]);

  body["tool_choice"] = {{"type", "auto"}, {"disable_parallel_tool_use", true}};
  json one = call(c, "/v1/messages", body);
  REQUIRE(one["content"].size() == 2);
  CHECK(one["content"][1]["name"] == "get_weather");
}

TEST_CASE("markers for a tool not offered or under tool choice none answer text") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json unknown = anthropic({msg("user", "[call_tool launch_rockets]")});
  json j = call(c, "/v1/messages", unknown);
  CHECK(j["stop_reason"] == "end_turn");
  CHECK(j["content"] == json::array({text("echo: [call_tool launch_rockets]")}));
  json none = anthropic({msg("user", "[call_tool get_weather]")});
  none["tool_choice"] = {{"type", "none"}};
  CHECK(call(c, "/v1/messages", none)["stop_reason"] == "end_turn");
  json openai_none = openai({msg("user", "[call_tool get_weather]")});
  openai_none["tool_choice"] = "none";
  json o = call(c, "/v1/chat/completions", openai_none)["choices"][0];
  CHECK(o["finish_reason"] == "stop");
  CHECK_FALSE(o["message"].contains("tool_calls"));
}

TEST_CASE("a forced openai tool choice answers a tool call with json text arguments") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = openai({msg("user", "What is the weather")});
  body["tool_choice"] = "required";
  json choice = call(c, "/v1/chat/completions", body)["choices"][0];
  CHECK(choice["finish_reason"] == "tool_calls");
  CHECK(choice["message"]["content"].is_null());
  REQUIRE(choice["message"]["tool_calls"].size() == 1);
  const json& tc = choice["message"]["tool_calls"][0];
  CHECK(tc["id"].get<std::string>().rfind("call_", 0) == 0);
  CHECK(tc["type"] == "function");
  CHECK(tc["function"]["name"] == "get_weather");
  REQUIRE(tc["function"]["arguments"].is_string());
  CHECK(json::parse(tc["function"]["arguments"].get<std::string>()) == json{{"city", "fake"}});

  body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_clock"}}}};
  json named = call(c, "/v1/chat/completions", body)["choices"][0]["message"]["tool_calls"];
  REQUIRE(named.size() == 1);
  CHECK(named[0]["function"] == json{{"name", "get_clock"}, {"arguments", "{}"}});
}

TEST_CASE("openai call_tool markers answer parallel tool calls unless parallel tool calls are off") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = openai({msg("user", "[call_tool get_weather {\"city\": \"Rome\"}] [call_tool get_weather {\"city\": \"Nice\"}]")});
  json message = call(c, "/v1/chat/completions", body)["choices"][0]["message"];
  REQUIRE(message["tool_calls"].size() == 2);
  CHECK(message["content"] == "calling get_weather, get_weather");
  CHECK(json::parse(message["tool_calls"][1]["function"]["arguments"].get<std::string>()) == json{{"city", "Nice"}});
  CHECK(message["tool_calls"][0]["id"] != message["tool_calls"][1]["id"]);
  body["parallel_tool_calls"] = false;
  CHECK(call(c, "/v1/chat/completions", body)["choices"][0]["message"]["tool_calls"].size() == 1);
}

TEST_CASE("a two turn anthropic tool conversation answers with the tool results") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  const json ask = msg("user", "Weather please [call_tool get_weather {\"city\": \"Oslo\"}] [call_tool get_clock]");
  json first = call(c, "/v1/messages", anthropic({ask}));
  REQUIRE(first["stop_reason"] == "tool_use");
  const std::string weather_id = first["content"][1]["id"];
  const std::string clock_id = first["content"][2]["id"];
  json results = json::array({{{"type", "tool_result"}, {"tool_use_id", weather_id}, {"content", "rain, 4 degrees"}},
                  {{"type", "tool_result"}, {"tool_use_id", clock_id}, {"content", json::array({text("no clock")})}, {"is_error", true}}});
  json second = call(c, "/v1/messages", anthropic({ask, msg("assistant", first["content"]), msg("user", results)}));
  CHECK(second["stop_reason"] == "end_turn");
  CHECK(second["content"] == json::array({text("tool result: rain, 4 degrees\ntool error: no clock")}));
}

TEST_CASE("a two turn openai tool conversation answers with the tool results") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  const json ask = msg("user", "Weather please [call_tool get_weather {\"city\": \"Oslo\"}]");
  json first = call(c, "/v1/chat/completions", openai({ask}))["choices"][0];
  REQUIRE(first["finish_reason"] == "tool_calls");
  const std::string id = first["message"]["tool_calls"][0]["id"];
  json answer = {{"role", "tool"}, {"tool_call_id", id}, {"content", "rain, 4 degrees"}};
  json second = call(c, "/v1/chat/completions", openai({ask, first["message"], answer}))["choices"][0];
  CHECK(second["finish_reason"] == "stop");
  CHECK(second["message"] == json{{"role", "assistant"}, {"content", "tool result: rain, 4 degrees"}});
}

TEST_CASE("an anthropic reply is cut before the first stop sequence it contains") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = anthropic({msg("user", "alpha beta gamma")});
  body["stop_sequences"] = json::array({"gamma", "beta"});
  json j = call(c, "/v1/messages", body);
  CHECK(j["content"] == json::array({text("echo: alpha ")}));
  CHECK(j["stop_reason"] == "stop_sequence");
  CHECK(j["stop_sequence"] == "beta");
  body["stop_sequences"] = json::array({"zeta"});
  json full = call(c, "/v1/messages", body);
  CHECK(full["content"] == json::array({text("echo: alpha beta gamma")}));
  CHECK(full["stop_reason"] == "end_turn");
  CHECK(full["stop_sequence"].is_null());
}

TEST_CASE("an openai reply is cut before a stop string or any stop in an array") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  json body = openai({msg("user", "alpha beta gamma")});
  body["stop"] = "beta";
  json one = call(c, "/v1/chat/completions", body)["choices"][0];
  CHECK(one["message"]["content"] == "echo: alpha ");
  CHECK(one["finish_reason"] == "stop");
  body["stop"] = json::array({"zeta", "gamma"});
  CHECK(call(c, "/v1/chat/completions", body)["choices"][0]["message"]["content"] == "echo: alpha beta ");
}
