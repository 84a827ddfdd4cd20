// The fake-provider binary's stream faults, read through tollgated's own
// SseParser, adapters and StreamAccumulator: a cut ends the stream early
// without its usage, an error event reads as a failure, writes of 1 to 7
// bytes read the same, stalls and delays between events hold the stream
// (timing checked as lower bounds only), a client that goes away and the
// server's shutdown end it; and the stats of each.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/fake_provider_client.h"
#include "tests/integration/fake_stream_client.h"

using nlohmann::json;
using std::chrono::milliseconds;
using tollgate::testing::FakeProviderProcess;
using tollgate::testing::stream_call;
using tollgate::testing::StreamOptions;
using tollgate::testing::StreamRead;
using tollgate::testing::whole_call;
using tollgate::workers::FailureKind;
using tollgate::workers::ProviderResult;

namespace {

const char* kMessages = "/v1/messages";
const char* kChat = "/v1/chat/completions";

json anthropic(const std::string& text) {
  return {{"model", "claude-test"},
          {"max_tokens", 50},
          {"stream", true},
          {"messages", json::array({{{"role", "user"}, {"content", text}}})}};
}

json openai(const std::string& text) {
  return {{"model", "gpt-test"},
          {"stream", true},
          {"stream_options", {{"include_usage", true}}},
          {"messages", json::array({{{"role", "user"}, {"content", text}}})}};
}

json api_stats(const FakeProviderProcess& fake, const std::string& api) {
  return fake.stats()[api];
}

}  // namespace

TEST_CASE("a stream cut after n events ends early without its final usage") {
  FakeProviderProcess fake({"--fault", "anthropic:stream_cut_after=4:times=1", "--fault",
                            "openai:stream_cut_after=3:times=1"});
  // message_start, content_block_start, ping, the first of two words.
  const StreamRead a = stream_call(fake.port(), kMessages, anthropic("hi"));
  CHECK(a.status == 0);  // the connection closed before the answer's end
  CHECK_FALSE(a.transfer_ok);
  CHECK(a.events.size() == 4);
  CHECK_FALSE(a.done);
  CHECK_FALSE(a.usage_reported);
  CHECK(a.input_tokens == 1u);  // message_start said it ("hi": 2 bytes)
  CHECK(a.result.reply.text == "echo:");
  json s = api_stats(fake, "anthropic");
  CHECK(s["streams"] == 1);
  CHECK(s["streams_cut"] == 1);
  CHECK(s["streams_client_closed"] == 0);
  CHECK(s["errors"] == 1);
  CHECK(s["input_tokens"] == 0);
  CHECK(s["stream_input_tokens"] == 1);
  CHECK(s["stream_output_tokens_sent"] == 10);  // one word of two: ceil(20 / 2)
  // The role chunk and both words: no finish_reason, no usage, no [DONE].
  const StreamRead o = stream_call(fake.port(), kChat, openai("hi"));
  CHECK(o.events.size() == 3);
  CHECK_FALSE(o.done);
  CHECK_FALSE(o.usage_reported);
  CHECK(o.result.reply.text == "echo: hi");
  s = api_stats(fake, "openai");
  CHECK(s["streams_cut"] == 1);
  CHECK(s["stream_input_tokens"] ==
        whole_call(fake.port(), kChat, openai("hi")).reply.input_tokens);
  CHECK(s["stream_output_tokens_sent"] == 20);
}

TEST_CASE("a cut past the last event and a truncate on a stream behave as documented") {
  FakeProviderProcess fake(
      {"--fault", "openai:stream_cut_after=100:times=1", "--fault", "openai:truncate:times=1"});
  const StreamRead whole = stream_call(fake.port(), kChat, openai("one two three"));
  CHECK(whole.done);
  CHECK(whole.transfer_ok);
  const StreamRead half = stream_call(fake.port(), kChat, openai("one two three"));
  CHECK(half.events.size() == whole.events.size() / 2);
  CHECK_FALSE(half.done);
  const json s = api_stats(fake, "openai");
  CHECK(s["streams"] == 2);
  CHECK(s["streams_cut"] == 1);
  CHECK(s["output_tokens"] == 20);
}

TEST_CASE("a stream error event after n events reads as the api's failure") {
  FakeProviderProcess fake({"--fault", "*:stream_error_after=2"});
  const StreamRead a = stream_call(fake.port(), kMessages, anthropic("hi"));
  CHECK(a.transfer_ok);  // the stream ends cleanly after the error event
  REQUIRE(a.events.size() == 3);
  CHECK(a.events.back().event == "error");
  CHECK(a.failed);
  CHECK(a.result.status == ProviderResult::Status::kFailed);
  CHECK(a.result.failure.kind == FailureKind::kOverloaded);
  const StreamRead o = stream_call(fake.port(), kChat, openai("hi"));
  REQUIRE(o.events.size() == 3);
  CHECK(json::parse(o.events.back().data)["error"]["type"] == "server_error");
  CHECK(o.failed);
  CHECK(o.result.failure.kind == FailureKind::kServer);
  const json stats = fake.stats();
  for (const char* api : {"anthropic", "openai"}) {
    CHECK(stats[api]["streams_cut"] == 1);
    CHECK(stats[api]["errors"] == 1);
  }
  // Anthropic sent no word before the error, OpenAI one of two.
  CHECK(stats["anthropic"]["stream_output_tokens_sent"] == 0);
  CHECK(stats["openai"]["stream_output_tokens_sent"] == 10);
}

TEST_CASE("a stream written one to seven bytes at a time reads the same") {
  FakeProviderProcess fake;
  json a = anthropic("Zürich 漢字 [call_tool get_weather {\"city\": \"Zürich 漢字\"}]");
  a["tools"] = json::array({{{"name", "get_weather"}, {"input_schema", {{"type", "object"}}}}});
  json o = openai("Zürich 漢字 [call_tool get_weather {\"city\": \"Zürich 漢字\"}]");
  o["tools"] = json::array(
      {{{"type", "function"},
        {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}}}}}}});
  const StreamRead a_whole = stream_call(fake.port(), kMessages, a);
  const StreamRead o_whole = stream_call(fake.port(), kChat, o);
  REQUIRE(a_whole.done);
  REQUIRE(o_whole.done);
  for (size_t k = 1; k <= 7; ++k) {
    INFO("split=" << k);
    fake.set_faults(json::array({"*:split=" + std::to_string(k)}));
    for (const auto& [path, body, whole] :
         {std::tuple{kMessages, a, &a_whole}, std::tuple{kChat, o, &o_whole}}) {
      const StreamRead s = stream_call(fake.port(), path, body);
      CHECK(s.largest_read <= k);
      CHECK(s.done);
      CHECK(s.usage_reported);
      CHECK(s.events.size() == whole->events.size());
      CHECK(s.result.reply.text == whole->result.reply.text);
      REQUIRE(s.result.reply.content.size() == 2);
      CHECK(s.result.reply.content[1].input == whole->result.reply.content[1].input);
      CHECK(s.result.reply.output_tokens == whole->result.reply.output_tokens);
    }
  }
}

TEST_CASE("a stall holds the stream for its time then the stream goes on") {
  FakeProviderProcess fake({"--fault", "openai:stream_stall_after=2:stall_ms=300"});
  const StreamRead s = stream_call(fake.port(), kChat, openai("hi"));
  CHECK(s.total >= milliseconds(300));
  CHECK(s.done);
  CHECK(s.usage_reported);
  CHECK(s.result.reply.text == "echo: hi");
  CHECK(api_stats(fake, "openai")["streams_cut"] == 0);
}

TEST_CASE("a delay between events lets the first part arrive long before the end") {
  FakeProviderProcess fake({"--fault", "anthropic:event_delay_ms=40"});
  // 13 events: start, block start, ping, 7 words, block stop, delta, stop.
  const StreamRead s =
      stream_call(fake.port(), kMessages, anthropic("one two three four five six"));
  REQUIRE(s.events.size() == 13);
  CHECK(s.done);
  CHECK(s.total >= milliseconds(12 * 40));
  // The first bytes came while the fake still had most of its waits ahead.
  CHECK(s.total - s.first_byte >= milliseconds(6 * 40));
}

TEST_CASE("a client that goes away ends the stream and is counted") {
  FakeProviderProcess fake({"--fault", "openai:event_delay_ms=50"});
  StreamOptions close_early;
  close_early.stop_after = 1;
  const StreamRead s = stream_call(fake.port(), kChat, openai("one two three four"), close_early);
  CHECK_FALSE(s.done);
  const json stats = tollgate::testing::stats_when(
      fake.port(), [](const json& j) { return j["openai"]["streams_client_closed"] == 1; });
  const json o = stats["openai"];
  CHECK(o["streams_client_closed"] == 1);
  CHECK(o["streams_cut"] == 1);
  CHECK(o["errors"] == 1);
  CHECK(o["stream_input_tokens"] == 5);  // 18 bytes
  CHECK(o["stream_output_tokens_sent"] < 20);
  CHECK(o["output_tokens"] == 0);
}

TEST_CASE("shutdown wakes a stalled stream and the fake exits") {
  FakeProviderProcess fake({"--fault", "anthropic:stream_stall_after=2:stall_ms=600000"});
  std::promise<void> stalled;
  StreamOptions options;
  options.read_timeout = std::chrono::seconds(300);
  bool told = false;
  options.on_events = [&](size_t events) {
    if (events >= 2 && !told) {
      told = true;
      stalled.set_value();
    }
  };
  StreamRead read;
  std::jthread client(
      [&] { read = stream_call(fake.port(), kMessages, anthropic("hi"), options); });
  // Not REQUIRE: the signal below must come whatever happens, or the
  // client thread would wait out its read timeout.
  CHECK(stalled.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  const auto start = std::chrono::steady_clock::now();
  fake.process().signal(SIGTERM);
  CHECK(fake.process().wait_exit(std::chrono::seconds(60)) == 0);
  client.join();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
  CHECK(read.events.size() == 2);
  CHECK_FALSE(read.done);
}

TEST_CASE("stream faults leave requests that are not streamed alone") {
  FakeProviderProcess fake({"--fault", "openai:stream_cut_after=1:times=1"});
  json body = openai("hi");
  CHECK(whole_call(fake.port(), kChat, body).reply.text == "echo: hi");
  CHECK(fake.stats()["openai"]["errors"] == 0);
  CHECK(stream_call(fake.port(), kChat, body).events.size() == 1);
  CHECK(stream_call(fake.port(), kChat, body).done);
}
