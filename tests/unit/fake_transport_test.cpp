// The fake transport and the hand-stepped call loop that unit tests of the
// call code run on, with the real adapters: requests are answered by the
// test, timers fire when the test moves the clock. No socket, no sleep.
#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/fake_transport.h"
#include "tests/unit/manual_call_loop.h"
#include "tests/unit/provider_test_util.h"
#include "workers/providers/adapter_registry.h"

using namespace std::chrono_literals;
using namespace tollgate::workers;
using tollgate::ManualClock;
using tollgate::workers::testing::FakeTransport;
using tollgate::workers::testing::ManualCallLoop;

namespace {

const ProviderAdapter& adapter(const char* api) {
  const ProviderAdapter* a = AdapterRegistry::builtin().find(api);
  REQUIRE(a != nullptr);
  return *a;
}

ProviderCall sample_call() {
  ProviderCall call;
  call.api_key = "sk-ant-fake-0123456789";
  call.base_url = "https://provider.test";
  call.model = "model-1";
  call.messages = {{"user", "Hello"}};
  call.max_tokens = 20;
  return call;
}

constexpr const char* kAnthropicOk =
    R"({"content":[{"type":"text","text":"Hi"}],"model":"model-1",)"
    R"("usage":{"input_tokens":12,"output_tokens":3}})";

}  // namespace

TEST_CASE("an adapter request answered by the fake transport parses to the reported usage") {
  const ProviderAdapter& anthropic = adapter("anthropic");
  FakeTransport transport;
  std::optional<ProviderResult> result;
  transport.submit(anthropic.build_request(sample_call()), {}, {}, [&](HttpResponse r) {
    result = anthropic.interpret_response(r, tollgate::workers::testing::kNow);
  });
  REQUIRE(transport.submitted() == 1);
  CHECK(transport.request(0).url == "https://provider.test/v1/messages");
  CHECK_FALSE(result);  // nothing answers inside submit()

  transport.reply(transport.next(), 200, kAnthropicOk);
  REQUIRE(result);
  REQUIRE(result->status == ProviderResult::Status::kOk);
  CHECK(result->reply.text == "Hi");
  CHECK(result->reply.input_tokens == 12);
  CHECK(result->reply.output_tokens == 3);
  CHECK(transport.unanswered() == 0);
}

TEST_CASE("a fake transport failure before any byte left is retryable and was not served") {
  const ProviderAdapter& openai = adapter("openai");
  FakeTransport transport;
  std::optional<HttpResponse> got;
  transport.submit(openai.build_request(sample_call()), {}, {}, [&](HttpResponse r) { got = r; });
  transport.fail(0, "Connection refused", /*request_sent=*/false);
  REQUIRE(got);
  const auto result = openai.interpret_response(*got, 0);
  CHECK(result.failure.kind == FailureKind::kTransport);
  CHECK(result.failure.retryable);
  CHECK(result.failure.message == "openai transport: Connection refused");
  CHECK_FALSE(may_have_served(result.failure, got->request_sent, false));
}

TEST_CASE("streamed chunks reach on_chunk in order and the answer carries the whole body") {
  FakeTransport transport;
  std::vector<std::string> chunks;
  std::optional<HttpResponse> got;
  transport.submit(adapter("anthropic").build_request(sample_call()), {},
                   [&](std::string_view bytes) { chunks.emplace_back(bytes); },
                   [&](HttpResponse r) { got = r; });
  transport.chunk(0, "event: a\n\n");
  transport.chunk(0, "event: b\n\n");
  CHECK_FALSE(got);
  transport.reply(0, 200, "event: c\n\n");
  CHECK(chunks == std::vector<std::string>{"event: a\n\n", "event: b\n\n", "event: c\n\n"});
  REQUIRE(got);
  CHECK(got->body == "event: a\n\nevent: b\n\nevent: c\n\n");
}

TEST_CASE("answering a fake request twice is an error in the test") {
  FakeTransport transport;
  transport.submit(HttpRequest{}, {}, {}, [](HttpResponse) {});
  transport.reply(0, 200, "{}");
  CHECK_THROWS_AS(transport.reply(0, 200, "{}"), std::logic_error);
  CHECK_THROWS_AS(transport.next(), std::logic_error);
}

TEST_CASE("a retry on a hand-stepped loop is sent only once the clock reaches the provider's wait") {
  const ProviderAdapter& anthropic = adapter("anthropic");
  ManualClock clock;
  ManualCallLoop loop(clock);
  std::optional<ProviderResult> last;
  // The shape of CallRun's send and retry: submit on the loop; a retryable
  // failure waits the provider's retry hint on a timer, then submits again.
  std::function<void()> send = [&] {
    loop.transport().submit(anthropic.build_request(sample_call()), {}, {}, [&](HttpResponse r) {
      last = anthropic.interpret_response(r, clock.wall_ms());
      if (!last->ok() && last->failure.retryable && last->failure.retry_after_ms) {
        loop.post_after(std::chrono::milliseconds(*last->failure.retry_after_ms), send);
      }
    });
  };
  loop.post(send);
  CHECK(loop.fake().submitted() == 0);
  loop.run_ready();
  REQUIRE(loop.fake().submitted() == 1);

  loop.fake().reply(0, 429, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow"}})",
                    {{"retry-after-ms", "500"}});
  REQUIRE(last);
  CHECK(last->failure.kind == FailureKind::kRateLimited);
  CHECK(loop.timers() == 1);
  loop.advance(499ms);
  CHECK(loop.fake().submitted() == 1);
  loop.advance(1ms);
  REQUIRE(loop.fake().submitted() == 2);

  loop.fake().reply(1, 200, kAnthropicOk);
  CHECK(last->status == ProviderResult::Status::kOk);
  CHECK(loop.timers() == 0);
}
