// The fake-provider binary streaming: a request with "stream": true reads,
// through tollgated's own SseParser, adapters and StreamAccumulator, as
// the same reply the fake gives not streamed (text, tool calls, stop
// sequences, usage with images and prompt caches) on both APIs; the wire
// format details; the checks of stream and stream_options; the faults that
// apply before or around a stream.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/fake_provider_client.h"
#include "tests/integration/fake_stream_client.h"
#include "tests/integration/test_images.h"

using nlohmann::json;
using tollgate::testing::FakeProviderProcess;
using tollgate::testing::stream_call;
using tollgate::testing::StreamRead;
using tollgate::testing::whole_call;
using tollgate::workers::ProviderResult;
using ContentType = tollgate::protocol::ContentBlock::Type;

namespace {

const char* kMessages = "/v1/messages";
const char* kChat = "/v1/chat/completions";

const json kWeather = {
    {"name", "get_weather"},
    {"input_schema",
     {{"type", "object"},
      {"properties", {{"city", {{"type", "string"}}}, {"days", {{"type", "integer"}}}}},
      {"required", json::array({"city"})}}}};
const json kClock = {{"name", "get_clock"}, {"input_schema", {{"type", "object"}}}};

json user(const json& content) { return {{"role", "user"}, {"content", content}}; }

json anthropic(const json& content) {
  return {{"model", "claude-test"},
          {"max_tokens", 50},
          {"stream", true},
          {"system", "Be brief"},
          {"messages", json::array({user(content)})}};
}

json openai_tool(const json& tool) {
  return {{"type", "function"},
          {"function", {{"name", tool["name"]}, {"parameters", tool["input_schema"]}}}};
}

json openai(const json& content) {
  return {
      {"model", "gpt-test"},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}},
      {"messages", json::array({{{"role", "system"}, {"content", "Be brief"}}, user(content)})}};
}

// Tool ids differ from one request to the next: compared by prefix, then
// left out.
std::vector<tollgate::protocol::ContentBlock> without_ids(ProviderResult r,
                                                          const std::string& prefix) {
  for (auto& block : r.reply.content) {
    if (block.type != ContentType::kToolUse) continue;
    CHECK(block.id.rfind(prefix, 0) == 0);
    block.id.clear();
  }
  return r.reply.content;
}

void check_same_reply(const StreamRead& streamed, const ProviderResult& whole,
                      const std::string& path) {
  const std::string id_prefix = path == kMessages ? "toolu_" : "call_";
  REQUIRE(whole.status == ProviderResult::Status::kOk);
  CHECK(streamed.status == 200);
  CHECK(streamed.content_type == "text/event-stream");
  CHECK(streamed.transfer_ok);
  CHECK(streamed.done);
  CHECK(streamed.usage_reported);
  const ProviderResult& s = streamed.result;
  CHECK(s.status == whole.status);
  CHECK(s.reply.text == whole.reply.text);
  CHECK(s.reply.model == whole.reply.model);
  CHECK(without_ids(s, id_prefix) == without_ids(whole, id_prefix));
  CHECK(s.reply.stop_reason == whole.reply.stop_reason);
  CHECK(s.reply.input_tokens == whole.reply.input_tokens);
  CHECK(s.reply.output_tokens == whole.reply.output_tokens);
  CHECK(s.reply.cache_creation_input_tokens.value_or(0) ==
        whole.reply.cache_creation_input_tokens.value_or(0));
  CHECK(s.reply.cache_read_input_tokens.value_or(0) ==
        whole.reply.cache_read_input_tokens.value_or(0));
}

// The request not streamed, then streamed, each on a fresh fake state (the
// prompt caches forgotten); the stream checked against the whole answer.
StreamRead stream_like_whole(const FakeProviderProcess& fake, const std::string& path,
                             const json& body) {
  httplib::Client c("127.0.0.1", fake.port());
  REQUIRE(c.Post("/_control/reset"));
  const ProviderResult whole = whole_call(fake.port(), path, body);
  REQUIRE(c.Post("/_control/reset"));
  StreamRead streamed = stream_call(fake.port(), path, body);
  INFO(streamed.bytes);
  check_same_reply(streamed, whole, path);
  return streamed;
}

size_t count_events(const StreamRead& s, const std::string& name) {
  size_t n = 0;
  for (const auto& e : s.events) n += e.event == name ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("a streamed anthropic text reply reads as the same reply not streamed") {
  FakeProviderProcess fake;
  const StreamRead s = stream_like_whole(fake, kMessages, anthropic("What is two plus two"));
  CHECK(s.result.reply.text == "echo: What is two plus two");
  CHECK(s.result.reply.stop_reason == tollgate::protocol::StopReason::kEndTurn);
  CHECK(s.result.reply.output_tokens == 20);
  // Word by word, with a ping.
  CHECK(s.parts.size() == 6);
  CHECK(count_events(s, "ping") == 1);
  CHECK(count_events(s, "message_stop") == 1);
  json stopped = anthropic("What is two plus two");
  stopped["stop_sequences"] = json::array({"plus"});
  const StreamRead cut = stream_like_whole(fake, kMessages, stopped);
  CHECK(cut.result.reply.stop_reason == tollgate::protocol::StopReason::kStopSequence);
  CHECK(cut.result.reply.text == "echo: What is two ");
}

TEST_CASE("a streamed anthropic tool use reply reads as the same reply not streamed") {
  FakeProviderProcess fake;
  json marked = anthropic(
      "[call_tool get_weather {\"city\": \"Zürich\", \"days\": 3}] [call_tool get_clock]");
  marked["tools"] = json::array({kWeather, kClock});
  const StreamRead s = stream_like_whole(fake, kMessages, marked);
  REQUIRE(s.result.reply.content.size() == 3);
  CHECK(s.result.reply.content[0].text == "calling get_weather, get_clock");
  CHECK(s.result.reply.content[1].name == "get_weather");
  CHECK(s.result.reply.content[1].input ==
        tollgate::protocol::JsonValue{{"city", "Zürich"}, {"days", 3}});
  CHECK(s.result.reply.stop_reason == tollgate::protocol::StopReason::kToolUse);
  json forced = anthropic("Weather please");
  forced["tools"] = json::array({kWeather, kClock});
  forced["tool_choice"] = {{"type", "tool"}, {"name", "get_weather"}};
  const StreamRead f = stream_like_whole(fake, kMessages, forced);
  REQUIRE(f.result.reply.content.size() == 1);
  CHECK(f.result.reply.content[0].type == ContentType::kToolUse);
}

TEST_CASE("a streamed anthropic reply counts images and prompt caches as the reply not streamed") {
  FakeProviderProcess fake;
  const std::string png = tollgate::testing::base64(tollgate::testing::png_header(1000, 1000));
  json body = anthropic(
      json::array({{{"type", "image"},
                    {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", png}}}},
                   {{"type", "text"}, {"text", "what is this"}}}));
  body["system"] = json::array({{{"type", "text"},
                                 {"text", std::string(400, 's')},
                                 {"cache_control", {{"type", "ephemeral"}}}}});
  // Written on the first request, read on the second: both ways alike.
  httplib::Client c("127.0.0.1", fake.port());
  const ProviderResult whole_first = whole_call(fake.port(), kMessages, body);
  const ProviderResult whole_again = whole_call(fake.port(), kMessages, body);
  REQUIRE(c.Post("/_control/reset"));
  const StreamRead first = stream_call(fake.port(), kMessages, body);
  const StreamRead again = stream_call(fake.port(), kMessages, body);
  check_same_reply(first, whole_first, kMessages);
  check_same_reply(again, whole_again, kMessages);
  CHECK(first.result.reply.cache_creation_input_tokens == 100u);
  CHECK(again.result.reply.cache_read_input_tokens == 100u);
  CHECK(first.result.reply.input_tokens > 1000);  // the image
}

TEST_CASE("a streamed openai reply reads as the same reply not streamed") {
  FakeProviderProcess fake;
  const StreamRead s = stream_like_whole(fake, kChat, openai("Hello there"));
  CHECK(s.result.reply.text == "echo: Hello there");
  CHECK(s.parts.size() == 3);
  CHECK(s.events.back().data == "[DONE]");
  json stopped = openai("Hello there");
  stopped["stop"] = "there";
  CHECK(stream_like_whole(fake, kChat, stopped).result.reply.text == "echo: Hello ");
  json marked = openai("[call_tool get_weather {\"city\": \"Zürich\"}] [call_tool get_clock]");
  marked["tools"] = json::array({openai_tool(kWeather), openai_tool(kClock)});
  const StreamRead t = stream_like_whole(fake, kChat, marked);
  REQUIRE(t.result.reply.content.size() == 3);
  CHECK(t.result.reply.content[2].name == "get_clock");
  CHECK(t.result.reply.stop_reason == tollgate::protocol::StopReason::kToolUse);
  json forced = openai("Weather please");
  forced["tools"] = json::array({openai_tool(kWeather)});
  forced["tool_choice"] = "required";
  CHECK(stream_like_whole(fake, kChat, forced).result.reply.content.size() == 1);
}

TEST_CASE("a streamed openai reply reports cached tokens as the reply not streamed") {
  FakeProviderProcess fake;
  json body = openai("hi");
  body["messages"][0]["content"] = std::string(6000, 's');
  const ProviderResult whole_first = whole_call(fake.port(), kChat, body);
  const ProviderResult whole_again = whole_call(fake.port(), kChat, body);
  httplib::Client c("127.0.0.1", fake.port());
  REQUIRE(c.Post("/_control/reset"));
  check_same_reply(stream_call(fake.port(), kChat, body), whole_first, kChat);
  const StreamRead again = stream_call(fake.port(), kChat, body);
  check_same_reply(again, whole_again, kChat);
  CHECK(again.result.reply.cache_read_input_tokens == 1408u);
}

TEST_CASE("an openai stream without include_usage has no usage chunk") {
  FakeProviderProcess fake;
  json body = openai("Hello there");
  body.erase("stream_options");
  const StreamRead s = stream_call(fake.port(), kChat, body);
  CHECK(s.transfer_ok);
  CHECK(s.done);
  CHECK_FALSE(s.usage_reported);
  CHECK(s.result.status == ProviderResult::Status::kUsageMissing);
  CHECK(s.result.reply.text == "echo: Hello there");
  CHECK(s.bytes.find("usage") == std::string::npos);
  body["stream_options"] = {{"include_usage", false}};
  CHECK_FALSE(stream_call(fake.port(), kChat, body).usage_reported);
}

TEST_CASE("stream and stream_options are checked as the real apis check them") {
  FakeProviderProcess fake;
  httplib::Client c("127.0.0.1", fake.port());
  using tollgate::testing::call;
  json a = anthropic("hi");
  a["stream"] = "yes";
  CHECK(call(c, kMessages, a, 400)["error"]["message"] ==
        "stream: Input should be a valid boolean");
  json o = openai("hi");
  o["stream"] = "true";
  json e = call(c, kChat, o, 400)["error"];
  CHECK(e["message"] == "Invalid type for 'stream': expected a boolean, but got a string instead.");
  CHECK(e["param"] == "stream");
  o["stream"] = false;
  e = call(c, kChat, o, 400)["error"];
  CHECK(e["message"] == "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  CHECK(e["param"] == "stream_options");
  o.erase("stream");
  CHECK(call(c, kChat, o, 400)["error"]["param"] == "stream_options");
  o["stream"] = true;
  o["stream_options"] = {{"include_usage", "yes"}};
  CHECK(call(c, kChat, o, 400)["error"]["param"] == "stream_options.include_usage");
  // stream false is an ordinary answer.
  a["stream"] = false;
  CHECK(call(c, kMessages, a)["type"] == "message");
  CHECK(tollgate::testing::stats(c)["anthropic"]["streams"] == 0);
}

TEST_CASE("a fault status answers a streamed request with the plain json error") {
  FakeProviderProcess fake({"--fault", "anthropic:status=529:times=1"});
  httplib::Client c("127.0.0.1", fake.port());
  auto r = tollgate::testing::post(c, kMessages, tollgate::testing::anthropic_headers(),
                                   anthropic("hi"));
  REQUIRE(r);
  CHECK(r->status == 529);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(json::parse(r->body)["error"]["type"] == "overloaded_error");
  const json stats = tollgate::testing::stats(c)["anthropic"];
  CHECK(stats["streams"] == 0);
  CHECK(stats["errors"] == 1);
}

TEST_CASE("no_usage and output token faults shape the streamed usage") {
  FakeProviderProcess fake({"--fault", "anthropic:no_usage:times=1", "--fault",
                            "openai:no_usage:times=1", "--fault",
                            "*:output_tokens=5:extra_output_tokens=7"});
  const StreamRead a = stream_call(fake.port(), kMessages, anthropic("hi"));
  CHECK(a.done);
  CHECK_FALSE(a.usage_reported);
  CHECK(a.input_tokens.has_value());  // message_start still says the input
  CHECK(count_events(a, "message_delta") == 1);
  const StreamRead o = stream_call(fake.port(), kChat, openai("hi"));
  CHECK(o.done);
  CHECK_FALSE(o.usage_reported);
  CHECK(o.result.status == ProviderResult::Status::kUsageMissing);
  CHECK(stream_call(fake.port(), kMessages, anthropic("hi")).result.reply.output_tokens == 12);
  CHECK(stream_call(fake.port(), kChat, openai("hi")).result.reply.output_tokens == 12);
  // Complete streams count as complete successes, reported or not.
  httplib::Client c("127.0.0.1", fake.port());
  const json stats = tollgate::testing::stats(c);
  CHECK(stats["anthropic"]["streams"] == 2);
  CHECK(stats["anthropic"]["errors"] == 0);
  CHECK(stats["anthropic"]["output_tokens"] == 20 + 12);
  CHECK(stats["openai"]["streams_cut"] == 0);
}

TEST_CASE("delay_ms holds back the first byte of a stream") {
  FakeProviderProcess fake({"--fault", "openai:delay_ms=300"});
  const StreamRead s = stream_call(fake.port(), kChat, openai("hi"));
  CHECK(s.done);
  CHECK(s.first_byte >= std::chrono::milliseconds(300));
}
