// Reply values at the edge: encoded once for the ROUTER, written as JSON for
// HTTP; and the server's CallSink, which hands call outcomes to the loop
// typed, through its Mailbox.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/server/mailbox_sink.h"
#include "daemon/server/reply.h"
#include "protocol/codec.h"
#include "protocol/json_bridge.h"

using namespace tollgate;

namespace {

protocol::CallReply sample_call() {
  protocol::CallReply r;
  r.text = "hello";
  r.provider = "anthropic";
  r.model = "claude";
  r.reason = "primary";
  r.usage = {3, 4, 7};
  r.attempts = {{"anthropic", "ok", std::nullopt, 12.5}};
  return r;
}

protocol::UsageEvent usage_event() {
  protocol::UsageEvent e;
  e.ai_name = "imperium";
  e.provider = "anthropic";
  return e;
}

}  // namespace

TEST_CASE("a reply is encoded for the wire with the id of its request") {
  const auto id = protocol::RequestId::from_string("req-9");
  CHECK(wire_reply(id, sample_call()) == protocol::encode_reply(id, sample_call()));
  const auto e = protocol::Error::rate_limited("slow down", 250);
  CHECK(wire_reply(id, e) == protocol::encode_error_reply(id, e));
}

TEST_CASE("a reply written as json for http reads as its wire encoding converted") {
  const auto id = protocol::RequestId::from_int(12);
  for (const Reply& reply : {Reply(sample_call()), Reply(protocol::PingReply{"1.0", 2, 3}),
                             Reply(protocol::Error::overloaded("busy", 100))}) {
    auto converted = protocol::to_json(wire_reply(id, reply));
    REQUIRE(converted.ok());
    CHECK(json_reply(id, reply).dump() == converted->dump());
  }
}

TEST_CASE("a call result becomes a reply with the call reply or the error") {
  const Reply ok = reply_of(sample_call());
  REQUIRE(ok.ok());
  CHECK(std::get<protocol::CallReply>(ok.body()) == sample_call());
  const Reply refused = reply_of(protocol::Error::emergency_shutdown("stop"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.code() == "emergency_shutdown");
  CHECK(refused.error().message == "stop");
}

TEST_CASE("a delivered call outcome reaches the loop typed with its events and its after step") {
  Mailbox mailbox;
  MailboxCallSink sink(mailbox);
  int after_ran = 0;
  sink.deliver(42, CallOutcome{sample_call(), {usage_event()}}, [&after_ran] { ++after_ran; });
  auto messages = mailbox.drain();
  REQUIRE(messages.size() == 1);
  auto& m = messages.front();
  CHECK(m.token == 42);
  CHECK(m.last);
  REQUIRE(m.reply.has_value());
  REQUIRE(m.reply->ok());
  CHECK(std::get<protocol::CallReply>(m.reply->body()) == sample_call());
  REQUIRE(m.events.size() == 1);
  CHECK(std::get<protocol::UsageEvent>(m.events[0]) == usage_event());
  REQUIRE(m.then);
  m.then();
  CHECK(after_ran == 1);
}

TEST_CASE("events published outside any reply reach the loop without a token") {
  Mailbox mailbox;
  MailboxCallSink sink(mailbox);
  sink.publish({});
  CHECK(mailbox.drain().empty());
  sink.publish({usage_event(), usage_event()});
  auto messages = mailbox.drain();
  REQUIRE(messages.size() == 1);
  CHECK(messages.front().token == 0);
  CHECK_FALSE(messages.front().reply.has_value());
  CHECK(messages.front().events.size() == 2);
}
