// Reply values at the edge: encoded once for the ROUTER, written as JSON for
// HTTP; and the server's CallSink, which hands call outcomes to the loop
// typed, through its Mailbox.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/server/known_replies.h"
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

TEST_CASE("a stale reply carries when it was read and why beside its own fields on both edges") {
  const auto id = protocol::RequestId::from_string("req-3");
  protocol::SummaryReply summary;
  summary.period = "2026-11";
  Reply reply(summary);
  reply.mark_stale(protocol::Staleness{1764460800000, "PostgreSQL ledger unreachable"});
  auto wire = protocol::to_json(wire_reply(id, reply));
  REQUIRE(wire.ok());
  CHECK((*wire)["ok"] == true);
  CHECK((*wire)["period"] == "2026-11");
  CHECK((*wire)["stale"]["as_of_ms"] == 1764460800000);
  CHECK((*wire)["stale"]["reason"] == "PostgreSQL ledger unreachable");
  CHECK(json_reply(id, reply) == *wire);
  CHECK_FALSE(protocol::to_json(wire_reply(id, Reply(summary)))->contains("stale"));
}

TEST_CASE("known replies answer a question again marked stale and forget the one read longest ago") {
  KnownReplies known(2);
  const protocol::RequestBody summary = protocol::SummaryRequest{};
  protocol::UsageRequest usage_a;
  usage_a.ai_name = "a";
  protocol::UsageRequest usage_b;
  usage_b.ai_name = "b";
  const std::string q_summary = KnownReplies::question(summary);
  const std::string q_a = KnownReplies::question(protocol::RequestBody(usage_a));
  const std::string q_b = KnownReplies::question(protocol::RequestBody(usage_b));
  CHECK(q_a != q_b);
  CHECK_FALSE(known.recall(q_summary, "down").has_value());
  known.remember(q_summary, Reply(protocol::SummaryReply{}), 100);
  known.remember(q_a, Reply(protocol::Error::internal("no")), 150);  // errors are not kept
  CHECK(known.size() == 1);
  known.remember(q_a, Reply(protocol::UsageReply{}), 200);
  auto again = known.recall(q_summary, "down");
  REQUIRE(again.has_value());
  REQUIRE(again->stale().has_value());
  CHECK(again->stale()->as_of_ms == 100);
  CHECK(again->stale()->reason == "down");
  CHECK(std::holds_alternative<protocol::SummaryReply>(again->body()));
  known.remember(q_b, Reply(protocol::UsageReply{}), 300);  // full: summary (100) goes
  CHECK(known.size() == 2);
  CHECK_FALSE(known.recall(q_summary, "down").has_value());
  CHECK(known.recall(q_a, "down").has_value());
  CHECK(known.recall(q_b, "down").has_value());
}
