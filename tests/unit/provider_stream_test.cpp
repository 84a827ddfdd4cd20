// Streamed answers (PROTOCOL.md section 9) through both adapters: the
// documented example streams give their parts in order and the same reply
// as the answer not streamed, however the bytes are split; error events
// mid-stream; streams cut before their usage; the request asking for a
// stream.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/unit/provider_test_util.h"
#include "tests/unit/stream_test_util.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using namespace tollgate::workers::testing;
using tollgate::protocol::JsonValue;
using tollgate::protocol::StopReason;
using Part = StreamPart::Type;

namespace {

const AnthropicAdapter kAnthropic;
const OpenAiAdapter kOpenAi;

void check_same_reply(const ProviderResult& streamed, const ProviderResult& whole) {
  REQUIRE(whole.status == ProviderResult::Status::kOk);
  CHECK(streamed.status == whole.status);
  CHECK(streamed.reply.text == whole.reply.text);
  CHECK(streamed.reply.model == whole.reply.model);
  CHECK(streamed.reply.content == whole.reply.content);
  CHECK(streamed.reply.stop_reason == whole.reply.stop_reason);
  CHECK(streamed.reply.input_tokens == whole.reply.input_tokens);
  CHECK(streamed.reply.output_tokens == whole.reply.output_tokens);
  CHECK(streamed.reply.cache_creation_input_tokens == whole.reply.cache_creation_input_tokens);
  CHECK(streamed.reply.cache_read_input_tokens == whole.reply.cache_read_input_tokens);
}

ProviderResult not_streamed(const ProviderAdapter& adapter, const std::string& fixture) {
  return adapter.parse_response(200, {}, stream_fixture(fixture), kNow);
}

// The parts joined per block: the text of text blocks, the JSON of tool blocks.
std::vector<std::string> joined_parts(const std::vector<StreamPart>& parts) {
  std::vector<std::string> out;
  for (const StreamPart& p : parts) {
    if (p.type == Part::kToolUseStart) continue;
    if (out.size() <= p.index) out.resize(p.index + 1);
    out[p.index] += p.text;
  }
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

ProviderCall tool_call() {
  ProviderCall call;
  call.api_key = "sk-test-0123456789";
  call.base_url = "https://api.example.com";
  call.model = "model-x";
  call.messages = {{"user", "What is the weather like in San Francisco?", {}}};
  call.max_tokens = 1024;
  return call;
}

}  // namespace

TEST_CASE(
    "the documented anthropic tool use stream gives the reply of the same answer not streamed") {
  const Streamed s = run_stream(kAnthropic, stream_fixture("anthropic_tool_use.sse"));
  CHECK(s.done);
  CHECK(s.usage_reported);
  check_same_reply(s.result, not_streamed(kAnthropic, "anthropic_tool_use_reply.json"));
  CHECK(s.result.reply.input_tokens == 472);
  CHECK(s.result.reply.output_tokens == 89);
}

TEST_CASE(
    "the documented anthropic stream gives its text and then its tool call as parts in order") {
  const Streamed s = run_stream(kAnthropic, stream_fixture("anthropic_tool_use.sse"));
  REQUIRE(s.parts.size() == 13 + 1 + 8);
  CHECK(s.parts[0] == StreamPart{Part::kTextDelta, 0, "Okay", "", ""});
  CHECK(s.parts[12] == StreamPart{Part::kTextDelta, 0, ":", "", ""});
  CHECK(s.parts[13] ==
        StreamPart{Part::kToolUseStart, 1, "", "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"});
  CHECK(s.parts[14] == StreamPart{Part::kInputJsonDelta, 1, "{\"location\":", "", ""});
  CHECK(joined_parts(s.parts) ==
        std::vector<std::string>{"Okay, let's check the weather for San Francisco, CA:",
                                 R"({"location": "San Francisco, CA", "unit": "fahrenheit"})"});
}

TEST_CASE("the documented openai text stream gives the reply of the same answer not streamed") {
  const Streamed s = run_stream(kOpenAi, stream_fixture("openai_text.sse"));
  CHECK(s.done);
  CHECK(s.usage_reported);
  check_same_reply(s.result, not_streamed(kOpenAi, "openai_text_reply.json"));
  CHECK(s.parts.size() == 10);
  CHECK(joined_parts(s.parts) ==
        std::vector<std::string>{"Hello there, how may I assist you today?"});
}

TEST_CASE(
    "the documented openai tool call stream gives the reply of the same answer not streamed") {
  const Streamed s = run_stream(kOpenAi, stream_fixture("openai_tool_calls.sse"));
  CHECK(s.done);
  check_same_reply(s.result, not_streamed(kOpenAi, "openai_tool_calls_reply.json"));
  REQUIRE(s.parts.size() == 8);
  CHECK(s.parts[0] ==
        StreamPart{Part::kToolUseStart, 0, "", "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather"});
  CHECK(joined_parts(s.parts) == std::vector<std::string>{R"({"location":"Paris, France"})"});
}

TEST_CASE("every split of a documented stream gives the same parts and reply") {
  for (const char* name : {"anthropic_tool_use.sse", "openai_text.sse", "openai_tool_calls.sse"}) {
    const ProviderAdapter& adapter =
        name[0] == 'a' ? static_cast<const ProviderAdapter&>(kAnthropic) : kOpenAi;
    const std::string bytes = stream_fixture(name);
    const Streamed whole = run_stream(adapter, bytes);
    const Streamed bytewise = run_stream(adapter, bytes, every_byte(bytes));
    CHECK(bytewise.parts == whole.parts);
    check_same_reply(bytewise.result, whole.result);
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
      const Streamed split = run_stream(adapter, bytes, {cut});
      INFO(name << " split at " << cut);
      REQUIRE(split.parts == whole.parts);
      REQUIRE(split.result.reply.content == whole.result.reply.content);
      REQUIRE(split.result.reply.output_tokens == whole.result.reply.output_tokens);
    }
  }
}

TEST_CASE("a stream with crlf or cr line ends reads like one with lf") {
  const std::string lf = stream_fixture("anthropic_tool_use.sse");
  const Streamed whole = run_stream(kAnthropic, lf);
  for (const char* end : {"\r\n", "\r"}) {
    const std::string other = replace_all(lf, "\n", end);
    const Streamed s = run_stream(kAnthropic, other, every_byte(other));
    CHECK(s.parts == whole.parts);
    check_same_reply(s.result, whole.result);
  }
}

TEST_CASE("an overloaded error event mid stream fails the answer like a 529 body") {
  std::string bytes = stream_fixture("anthropic_tool_use.sse");
  const std::string error_body =
      R"({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})";
  bytes = bytes.substr(0, bytes.find("event: content_block_stop")) +
          "event: error\ndata: " + error_body + "\n\n" +
          bytes.substr(bytes.find("event: content_block_stop"));
  const Streamed s = run_stream(kAnthropic, bytes);
  const ProviderResult body = kAnthropic.parse_response(529, {}, error_body, kNow);
  REQUIRE(s.result.status == ProviderResult::Status::kFailed);
  CHECK(s.result.failure.kind == FailureKind::kOverloaded);
  CHECK(s.result.failure.kind == body.failure.kind);
  CHECK(s.result.failure.retryable == body.failure.retryable);
  CHECK(s.result.failure.message ==
        "anthropic stream error (as HTTP 529) overloaded_error: Overloaded");
  CHECK(s.parts.size() == 13);  // the text sent before the error stays sent
  CHECK_FALSE(s.done);
  CHECK_FALSE(s.usage_reported);
  CHECK(s.input_tokens == 472u);
}

TEST_CASE("an openai error chunk mid stream fails the answer like the same error body") {
  std::string bytes = stream_fixture("openai_text.sse");
  const std::string error_body =
      R"({"error": {"message": "The server had an error while processing your request.",)"
      R"( "type": "server_error", "code": null}})";
  bytes = bytes.substr(0, 2000) + bytes.substr(2000, bytes.find("\n\n", 2000) + 2 - 2000) +
          "data: " + error_body + "\n\n";
  const Streamed s = run_stream(kOpenAi, bytes);
  REQUIRE(s.result.status == ProviderResult::Status::kFailed);
  CHECK(s.result.failure.kind == kOpenAi.parse_response(500, {}, error_body, kNow).failure.kind);
  CHECK(s.result.failure.kind == FailureKind::kServer);
  CHECK_FALSE(s.parts.empty());
}

TEST_CASE(
    "an anthropic stream cut before message_delta reports no usage but keeps the input it "
    "reported") {
  const std::string bytes = stream_fixture("anthropic_tool_use.sse");
  const Streamed s = run_stream(kAnthropic, bytes.substr(0, bytes.find("event: message_delta")));
  CHECK_FALSE(s.done);
  CHECK_FALSE(s.usage_reported);
  CHECK(s.input_tokens == 472u);
  CHECK(s.result.status == ProviderResult::Status::kUsageMissing);
  CHECK(s.result.reply.output_tokens == 0);
  CHECK(s.result.reply.content.size() == 2);
}

TEST_CASE("an openai stream cut before its usage chunk reports no usage") {
  const std::string bytes = stream_fixture("openai_text.sse");
  const Streamed s = run_stream(kOpenAi, bytes.substr(0, bytes.find("\"choices\": []") - 120));
  CHECK_FALSE(s.done);
  CHECK_FALSE(s.usage_reported);
  CHECK_FALSE(s.input_tokens);
  CHECK(s.result.status == ProviderResult::Status::kUsageMissing);
}

TEST_CASE("data that is not json fails the stream as an invalid response") {
  const Streamed s = run_stream(kOpenAi, "data: {\"id\": \"x\", \"choices\": [\n\n");
  REQUIRE(s.result.status == ProviderResult::Status::kFailed);
  CHECK(s.result.failure.kind == FailureKind::kInvalidResponse);
  CHECK(s.result.failure.message.rfind("openai invalid stream event: ", 0) == 0);
}

TEST_CASE("anthropic thinking blocks are skipped and later blocks renumbered") {
  const std::string bytes =
      "event: content_block_start\ndata: "
      "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\","
      "\"thinking\":\"\"}}\n\n"
      "event: content_block_delta\ndata: "
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
      "\"thinking\":\"hmm\"}}\n\n"
      "event: content_block_start\ndata: "
      "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":"
      "\"\"}}\n\n"
      "event: content_block_delta\ndata: "
      "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":"
      "\"21\"}}\n\n";
  const Streamed s = run_stream(kAnthropic, bytes);
  CHECK(s.parts == std::vector<StreamPart>{{Part::kTextDelta, 0, "21", "", ""}});
  CHECK(s.result.reply.text == "21");
}

TEST_CASE("message_delta usage with cache counts replaces the counts of message_start") {
  const std::string bytes =
      "event: message_start\ndata: "
      "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{"
      "\"input_tokens\":2679,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
      "\"output_tokens\":3}}}\n\n"
      "event: message_delta\ndata: "
      "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_"
      "tokens\":10682,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":7,\"output_"
      "tokens\":510}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  const Streamed s = run_stream(kAnthropic, bytes);
  REQUIRE(s.result.status == ProviderResult::Status::kOk);
  CHECK(s.result.reply.input_tokens == 10682 + 5 + 7);
  CHECK(s.result.reply.output_tokens == 510);
  CHECK(s.result.reply.cache_creation_input_tokens == 5u);
  CHECK(s.result.reply.cache_read_input_tokens == 7u);
  CHECK(s.result.reply.stop_reason == StopReason::kEndTurn);
}

TEST_CASE("an openai tool call without an id gets the id a non streamed reply would give") {
  std::string bytes = replace_all(stream_fixture("openai_tool_calls.sse"),
                                  "\"call_DdmO9pD3xa9XTPNJ32zg2hcA\"", "null");
  std::string body = replace_all(stream_fixture("openai_tool_calls_reply.json"),
                                 "\"id\": \"call_DdmO9pD3xa9XTPNJ32zg2hcA\",", "");
  const Streamed s = run_stream(kOpenAi, bytes);
  check_same_reply(s.result, kOpenAi.parse_response(200, {}, body, kNow));
  CHECK(s.parts[0].id == "call_chatcmpl-123_0");
}

TEST_CASE("a streamed request adds the stream fields and nothing else") {
  ProviderCall call = tool_call();
  const HttpRequest plain_anthropic = kAnthropic.build_request(call);
  const HttpRequest plain_openai = kOpenAi.build_request(call);
  CHECK(plain_anthropic.body.find("stream") == std::string::npos);
  CHECK(plain_openai.body.find("stream") == std::string::npos);
  call.stream = true;  // key order aside (checked on the bytes below)
  nlohmann::json anthropic = nlohmann::json::parse(plain_anthropic.body);
  anthropic["stream"] = true;
  CHECK(nlohmann::json::parse(kAnthropic.build_request(call).body) == anthropic);
  CHECK(
      kAnthropic.build_request(call).body ==
      R"({"max_tokens":1024,"messages":[{"content":"What is the weather like in San Francisco?",)"
      R"("role":"user"}],"model":"model-x","stream":true,"temperature":0.7})");
  const HttpRequest streamed_openai = kOpenAi.build_request(call);
  nlohmann::json openai = nlohmann::json::parse(plain_openai.body);
  openai["stream"] = true;
  openai["stream_options"] = {{"include_usage", true}};
  CHECK(nlohmann::json::parse(streamed_openai.body) == openai);
  CHECK(streamed_openai.body.find(
            R"("stream":true,"stream_options":{"include_usage":true},"temperature")") !=
        std::string::npos);
  CHECK(streamed_openai.headers == plain_openai.headers);
  CHECK(streamed_openai.url == plain_openai.url);
}

TEST_CASE("a stream error naming the api key is reported without it") {
  const std::string key = "sk-live-abcdef0123456789";
  const ProviderAdapter& adapter = kAnthropic;
  const std::string data =
      R"({"type":"error","error":{"type":"authentication_error","message":"bad key )" + key +
      R"("}})";
  const StreamEvent e = adapter.parse_stream_event("error", data, key);
  REQUIRE(e.kind == StreamEvent::Kind::kFailed);
  CHECK(e.failure.kind == FailureKind::kAuth);
  CHECK(e.failure.message.find(key) == std::string::npos);
  CHECK(e.failure.message.find("[redacted]") != std::string::npos);
}
