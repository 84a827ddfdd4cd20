// tollgate::Client's calls against the real tollgated and fake-provider:
// a tool call round trip, streaming, cancel, a resend after a client
// timeout charged once, and a late reply that is not taken for the next.
#include <catch2/catch.hpp>

#include <vector>

#include "clients/cpp/tests/client_fixture.h"

using namespace tollgate;
using namespace tollgate::client_test;
using Clock = std::chrono::steady_clock;

namespace {

Tool weather_tool() {
  return Tool{"get_weather", "The weather in a city",
              Value::Map{{"type", "object"},
                         {"properties", Value::Map{{"city", Value::Map{{"type", "string"}}}}},
                         {"required", Value::Array{"city"}}}};
}

}  // namespace

TEST_CASE("a tool call round trip goes through the C++ client") {
  Stack s;
  Client client = s.client();
  CallOptions turn1;
  turn1.ai_name = kAgent;
  turn1.messages = {Message{"user", "What is the weather in Paris?", {}}};
  turn1.tools = {weather_tool()};
  turn1.tool_choice = ToolChoice{"tool", "get_weather"};
  turn1.max_tokens = 200;
  auto first = client.call(turn1);
  REQUIRE(first.ok());
  CHECK(first->stop_reason == "tool_use");
  const ContentBlock* use = nullptr;
  for (const ContentBlock& b : first->content) {
    if (b.type == "tool_use") use = &b;
  }
  REQUIRE(use != nullptr);
  CHECK(use->name == "get_weather");
  CHECK(use->input["city"].is_string());  // built from the schema's required property
  CHECK_FALSE(use->id.empty());

  CallOptions turn2 = turn1;
  turn2.tool_choice.reset();
  turn2.messages.push_back(Message{"assistant", "", first->content});
  turn2.messages.push_back(
      Message{"user", "", {ContentBlock::tool_result(use->id, "18C and sunny"), ContentBlock::make_text("Thanks")}});
  auto second = client.call(turn2);
  REQUIRE(second.ok());
  CHECK(second->stop_reason == "end_turn");
  CHECK(second->text.find("tool result: 18C and sunny") != std::string::npos);
  CHECK(second->provider == "anthropic");
  CHECK(second->usage.total_tokens == second->usage.input_tokens + second->usage.output_tokens);
  REQUIRE(second->attempts.size() == 1);
  CHECK(second->attempts[0].outcome == "ok");
}

TEST_CASE("a streamed call hands each part to the callback before the call ends") {
  Stack s;
  s.fake.set_faults(nlohmann::json::array({"anthropic:event_delay_ms=40"}));
  Client client = s.client();
  std::vector<Chunk> parts;
  Clock::time_point first_part{};
  auto r = client.stream(prompt_call("one two three four five six seven eight"), [&](const Chunk& c) {
    if (parts.empty()) first_part = Clock::now();
    parts.push_back(c);
  });
  const Clock::time_point end = Clock::now();
  REQUIRE(r.ok());
  REQUIRE(parts.size() >= 2);
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) {
    CHECK(parts[i].part == i + 1);
    CHECK(parts[i].request_id == r->request_id);
    if (parts[i].type == "text_delta") text += parts[i].text;
  }
  CHECK(text == r->text);
  CHECK(r->text == "echo: one two three four five six seven eight");
  // The provider spaces its events 40 ms apart: the first part came while
  // the rest of the stream was still being written.
  CHECK(end - first_part >= std::chrono::milliseconds(200));
}

TEST_CASE("a stream is cancelled from its callback and ends with cancelled") {
  Stack s;
  s.fake.set_faults(nlohmann::json::array({"anthropic:event_delay_ms=300"}));
  Client client = s.client();
  int parts = 0;
  std::optional<Result<bool>> found;
  auto r = client.stream(prompt_call("one two three four five six seven eight"), [&](const Chunk& c) {
    if (++parts == 1) found = client.cancel(c.request_id);
  });
  REQUIRE(found.has_value());
  REQUIRE(found->ok());
  CHECK(found->value());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "cancelled");
  CHECK(r.error().partial);
  CHECK(parts < 9);  // the stream stopped before its ninth delta
  // The cancel's own reply was matched by its id, not lost or stale.
  CHECK(client.stale_replies() == 0);
  // Nothing is in flight any more: a cancel of it finds nothing.
  auto again = client.cancel(r.error().request_id);
  REQUIRE(again.ok());
  CHECK_FALSE(again.value());
}

TEST_CASE("a resend after a client timeout reuses the idempotency key and is charged once") {
  Stack s;
  // The first request to the provider takes 1 s: every send before it
  // answers times out on the client side.
  s.fake.set_faults(nlohmann::json::array({"anthropic:delay_ms=1000:times=1"}));
  Client client = s.client();
  CallOptions o = prompt_call("charge me once");
  o.client_timeout = std::chrono::milliseconds(300);  // expects no reply: not scaled
  o.retries = static_cast<int>(20 * testing::time_scale());
  auto r = client.call(o);
  REQUIRE(r.ok());
  CHECK(r->sends >= 2);
  CHECK(r->replayed);  // the resend waited for the first and got its reply
  auto usage = client.usage(kAgent);
  REQUIRE(usage.ok());
  CHECK(usage->providers.at("anthropic").requests == 1);
  CHECK(usage->providers.at("anthropic").used == r->usage.total_tokens);
  CHECK(testing::served(s.fake.stats(), "anthropic") == r->usage.total_tokens);
}

TEST_CASE("a late reply to a timed out call is discarded and not taken for the next") {
  Stack s;
  // Call A answers after 800 ms, call B after 1500 ms: A's late reply
  // arrives while the client waits for B.
  s.fake.set_faults(nlohmann::json::array({"anthropic:delay_ms=800:times=1", "anthropic:delay_ms=1500:times=1"}));
  Client client = s.client();
  CallOptions a = prompt_call("first");
  a.client_timeout = std::chrono::milliseconds(200);
  auto ra = client.call(a);
  REQUIRE_FALSE(ra.ok());
  CHECK(ra.error().code == kClientTimeout);
  CHECK(ra.error().request_id == client.last_request_id());
  CHECK(client.stale_replies() == 0);

  auto rb = client.call(prompt_call("second"));
  REQUIRE(rb.ok());
  CHECK(rb->text == "echo: second");
  CHECK(rb->request_id != ra.error().request_id);
  CHECK(client.stale_replies() == 1);
}
