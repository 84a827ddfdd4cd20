// Streamed calls and cancel on fakes (tests/unit/call_test_util.h): the
// provider's server-sent events arrive as the test feeds them to the fake
// transport, in pieces cut anywhere. Each part goes out as its event is
// read; retries and fallback only before the first part; a cut stream is
// charged the input the provider reported (else the bound) plus
// max_tokens, and after the first part the call ends with the error,
// partial. After each call the ledger holds no reservation.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "tests/unit/call_test_util.h"

using namespace std::chrono_literals;
using namespace tollgate;
using namespace tollgate::workers;
using namespace tollgate::workers::testing;

namespace {

std::string sse(const std::string& event, const std::string& data) {
  return "event: " + event + "\ndata: " + data + "\n\n";
}

std::string message_start(uint64_t input_tokens) {
  return sse("message_start",
             R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
             R"("model":"claude-test","content":[],"stop_reason":null,"usage":{"input_tokens":)" +
                 std::to_string(input_tokens) + R"(,"output_tokens":1}}})");
}

std::string text_block(int index, const std::vector<std::string>& pieces) {
  std::string out = sse("content_block_start", R"({"type":"content_block_start","index":)" +
                                                   std::to_string(index) +
                                                   R"(,"content_block":{"type":"text","text":""}})");
  for (const auto& p : pieces) {
    out += sse("content_block_delta", R"({"type":"content_block_delta","index":)" +
                                          std::to_string(index) +
                                          R"(,"delta":{"type":"text_delta","text":")" + p + R"("}})");
  }
  return out + sse("content_block_stop",
                   R"({"type":"content_block_stop","index":)" + std::to_string(index) + "}");
}

std::string message_end(uint64_t output_tokens) {
  return sse("message_delta",
             R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
             R"("usage":{"output_tokens":)" + std::to_string(output_tokens) + "}}") +
         sse("message_stop", R"({"type":"message_stop"})");
}

protocol::CallRequest streamed(const std::string& prompt = "hello", uint64_t max_tokens = 20) {
  protocol::CallRequest r = call_request(prompt, max_tokens);
  r.stream = true;
  return r;
}

// The texts of the parts sent under `token`, in order.
std::vector<std::string> texts(const RecordingSink& sink, uint64_t token) {
  std::vector<std::string> out;
  for (const auto& [t, part] : sink.parts) {
    if (t == token) out.push_back(part.chunk.text);
  }
  return out;
}

}  // namespace

TEST_CASE("a streamed call sends each part as its event arrives and is charged the usage reported") {
  CallFakes f;
  f.start(1, streamed(), 200);
  REQUIRE(f.transport().submitted() == 1);
  CHECK(f.transport().options(0).stream);
  CHECK(f.transport().request(0).body.find(R"("stream":true)") != std::string::npos);

  const std::string all = message_start(12) + text_block(0, {"Hel", "lo"}) + message_end(3);
  // Cut inside the first event's data, then inside the second delta's text.
  const size_t cut1 = all.find("claude-test");
  const size_t cut2 = all.find("lo\"}}");
  f.transport().chunk(0, all.substr(0, cut1));
  f.loop.run_ready();
  CHECK(f.sink.parts.empty());
  f.transport().chunk(0, all.substr(cut1, cut2 - cut1));
  f.loop.run_ready();
  CHECK(texts(f.sink, 1) == std::vector<std::string>{"Hel"});
  CHECK(f.sink.deliveries.empty());
  f.transport().chunk(0, all.substr(cut2));
  CHECK(texts(f.sink, 1) == std::vector<std::string>{"Hel", "lo"});
  CHECK(f.sink.parts[0].second.part == 1);
  CHECK(f.sink.parts[1].second.part == 2);
  CHECK(f.sink.parts[1].second.chunk.index == 0);

  f.answer(0, 200, "");
  const auto& reply = f.sink.reply(1);
  CHECK(reply.text == "Hello");
  CHECK(reply.usage.input_tokens == 12);
  CHECK(reply.usage.output_tokens == 3);
  CHECK(reply.stop_reason == protocol::StopReason::kEndTurn);
  const auto usage = events_of<protocol::UsageEvent>(f.sink.outcome(1).events);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].total_tokens == 15);
  CHECK(f.usage("anthropic").used == 15);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a stream cut after its first part ends the call partial and is charged the reported input plus max_tokens") {
  CallFakes f;
  f.start(1, streamed("hello", 20), 200);
  f.transport().chunk(0, message_start(12) + text_block(0, {"Hel"}));
  f.transport().fail(0, "Connection reset by peer", true);
  f.loop.run_ready();

  const auto& outcome = f.sink.outcome(1);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.error().code == protocol::ErrorCode::kProviderError);
  CHECK(outcome.reply.error().partial);
  CHECK(outcome.reply.error().message.find("after 1 parts") != std::string::npos);
  // No retry and no fallback once a part went out.
  CHECK(f.transport().submitted() == 1);
  CHECK(f.usage("anthropic").used == 12 + 20);
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("openai").used == 0);
  const auto usage = events_of<protocol::UsageEvent>(outcome.events);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].input_tokens == 12);
  CHECK(usage[0].output_tokens == 20);
  CHECK(usage[0].reason == "unconfirmed");
}

TEST_CASE("a stream that fails before its first part falls back and the cut attempt is charged its bound") {
  CallFakes f({"TOLLGATE_MAX_ATTEMPTS=1"});
  f.start(1, streamed("hello", 20), 200);
  f.transport().chunk(0, message_start(12) +
                             sse("error", R"({"type":"error","error":{"type":"overloaded_error",)"
                                          R"("message":"Overloaded"}})"));
  f.answer(0, 200, "");
  CHECK(f.sink.parts.empty());
  REQUIRE(f.transport().submitted() == 2);
  CHECK(f.transport().request(1).url == "http://openai.test/v1/chat/completions");
  CHECK(f.usage("anthropic").used == 12 + 20);
  CHECK(f.usage("anthropic").reserved == 0);

  const std::string openai =
      R"(data: {"model":"gpt-test","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"model":"gpt-test","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
      "\n\n"
      R"(data: {"model":"gpt-test","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})"
      "\n\n"
      "data: [DONE]\n\n";
  f.transport().chunk(1, openai);
  f.answer(1, 200, "");
  const auto& reply = f.sink.reply(1);
  CHECK(reply.provider == "openai");
  CHECK(reply.reason == "fallback_error");
  CHECK(reply.text == "Hi");
  CHECK(texts(f.sink, 1) == std::vector<std::string>{"Hi"});
  CHECK(f.usage("openai").used == 15);
  CHECK(f.usage("openai").reserved == 0);
}

TEST_CASE("a stream that ends without the provider finishing it is cut and not taken as a reply") {
  CallFakes f;
  f.start(1, streamed("hello", 20), 200);
  f.transport().chunk(0, message_start(12) + text_block(0, {"Hel"}));
  f.answer(0, 200, "");  // the connection closed cleanly, but no message_stop
  const auto& outcome = f.sink.outcome(1);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.error().partial);
  CHECK(f.usage("anthropic").used == 32);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("cancel during a stream aborts the transfer and answers cancelled partial after the charge") {
  CallFakes f;
  auto run = f.start(1, streamed("hello", 20), 200);
  f.transport().chunk(0, message_start(12) + text_block(0, {"Hel"}));
  f.loop.run_ready();
  run->cancel(protocol::Error::cancelled("call 1 was cancelled by the cancel op"));
  CHECK(f.transport().cancel_reason(0) == "cancelled");
  CHECK(f.sink.deliveries.empty());
  f.transport().end_cancelled(0);
  f.loop.run_ready();
  const auto& outcome = f.sink.outcome(1);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.error().code == protocol::ErrorCode::kCancelled);
  CHECK(outcome.reply.error().partial);
  CHECK(f.usage("anthropic").used == 32);
  CHECK(f.usage("anthropic").reserved == 0);
  // The client's cancel is not held against the provider.
  CHECK(f.transport().submitted() == 1);
}

TEST_CASE("cancel while a call waits to retry answers cancelled and sends nothing more") {
  CallFakes f;
  f.loop.set_jitter(0.5);
  auto run = f.start(1, call_request(), 200);
  f.answer(0, 529, kOverloadedBody);
  CHECK(f.usage("anthropic").reserved == 0);
  run->cancel(protocol::Error::cancelled("cancelled"));
  const auto& outcome = f.sink.outcome(1);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.error().code == protocol::ErrorCode::kCancelled);
  CHECK_FALSE(outcome.reply.error().partial);
  f.loop.advance(1s);
  CHECK(f.transport().submitted() == 1);
  CHECK(f.usage("anthropic").reserved == 0);
  CHECK(f.usage("anthropic").used == 0);
}

TEST_CASE("a stream idle for TOLLGATE_STREAM_IDLE_MS is ended and answered timeout partial") {
  CallFakes f({"TOLLGATE_STREAM_IDLE_MS=500"});
  f.start(1, streamed("hello", 20), 200);
  f.transport().chunk(0, message_start(12));
  f.loop.advance(400ms);
  f.transport().chunk(0, text_block(0, {"Hel"}));
  f.loop.advance(400ms);  // 400 ms since the last bytes: not idle yet
  CHECK(f.transport().cancel_reason(0).empty());
  f.loop.advance(100ms);
  CHECK(f.transport().cancel_reason(0).find("stream idle") == 0);
  f.transport().end_cancelled(0);
  f.loop.run_ready();
  const auto& outcome = f.sink.outcome(1);
  REQUIRE_FALSE(outcome.reply.ok());
  CHECK(outcome.reply.error().code == protocol::ErrorCode::kTimeout);
  CHECK(outcome.reply.error().partial);
  CHECK(f.usage("anthropic").used == 32);
  CHECK(f.usage("anthropic").reserved == 0);
}

TEST_CASE("a streamed call whose provider reports no usage is charged the input bound plus max_tokens") {
  CallFakes f;
  f.charge("anthropic", 95000);  // at the fallback threshold: OpenAI answers
  f.start(1, streamed("hello", 20), 200);
  REQUIRE(f.transport().submitted() == 1);
  CHECK(f.transport().request(0).url == "http://openai.test/v1/chat/completions");
  CHECK(f.transport().request(0).body.find(R"("include_usage":true)") != std::string::npos);
  f.transport().chunk(0, R"(data: {"model":"gpt-test","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})"
                         "\n\ndata: [DONE]\n\n");
  f.answer(0, 200, "");
  const auto& reply = f.sink.reply(1);
  CHECK(reply.text == "Hi");
  // OpenAI reported nothing: the input bound (200 - 20) and the output bound.
  CHECK(reply.usage.input_tokens == 180);
  CHECK(reply.usage.output_tokens == 20);
  CHECK(f.usage("openai").used == 200);
  CHECK(f.usage("openai").reserved == 0);
}
