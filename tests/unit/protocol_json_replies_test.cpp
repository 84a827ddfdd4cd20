// Replies written as JSON straight from their values (the HTTP edge) give
// the JSON of their msgpack encoding, and a stored call reply decodes back
// to its value.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/json_bridge.h"

using namespace tollgate::protocol;
using nlohmann::json;

namespace {

CallReply sample_call_reply() {
  CallReply r;
  r.text = "bonjour \xc3\xa9t\xc3\xa9";
  r.provider = "openai";
  r.model = "gpt-4.1";
  r.reason = "fallback_threshold";
  r.usage = {12, 30, 42};
  r.cost_usd = 0.25;
  r.attempts = {{"anthropic", "skipped", "threshold", 0.0}, {"openai", "ok", std::nullopt, 812.5}};
  r.latency_ms = 815.0;
  return r;
}

// One example of every reply type, with nested maps, optionals and events.
std::vector<ReplyBody> every_reply() {
  UsageReply usage{"imperium", "2025-02", "normal", std::nullopt, {{"anthropic", {1, 2, 10, 7, 10.0, 1, 0}}}};
  SummaryReply summary;
  summary.period = "2025-02";
  summary.providers["openai"] = {5, 1, std::nullopt, 0, 2, 0.5};
  summary.agents = {{"imperium", "warning", {{"openai", {5, 10, 50.0}}}}};
  summary.totals = {5, 2, 0.5};
  ProviderStatusReply status;
  status.providers["anthropic"] = {true, "half_open", {1, 50, 2, 1000}, 10, 100, 10.0, 3};
  status.agents = {{"imperium", "anthropic", "primary", {{"anthropic", {true, 10.0, std::nullopt}}}}};
  EmergencyStatusReply emergency{"warning", false, {"openai at 85%"}, {}, {{"imperium", "openai", 85.0, "warning"}}};
  AlertEvent alert{"warning", "*", "openai", 0.8, 80.5, 8, 10, "2025-02", 17, "openai global at 80%"};
  HistoryReply history{"imperium", {{"2025-02", {{"anthropic", {100, 2, 40}}}, 100, 0.5}}};
  ResetReply reset{"imperium", "2025-02", {{"anthropic", 500}, {"openai", 0}}};
  LedgerEventsReply events{{LedgerEvent{LedgerRollover{"2025-03", "2025-02"}, 6},
                            LedgerEvent{LedgerReset{"imperium", "2025-02", {{"anthropic", 10}}}, 5}}};
  // Section 9: a part of each chunk type, and the reply to cancel.
  CallPartReply text{1, {StreamChunk::Type::kTextDelta, 0, "bonjour \xc3\xa9", "", ""}};
  CallPartReply tool{2, {StreamChunk::Type::kToolUseStart, 1, "", "toolu_1", "get_weather"}};
  CallPartReply input{3, {StreamChunk::Type::kInputJsonDelta, 1, "{\"city\":", "", ""}};
  return {PingReply{"0.1.0", 5, 6}, sample_call_reply(), usage, summary, status,
          RecommendReply{std::nullopt, "both_exhausted", false}, emergency, AlertsReply{{alert}},
          history, reset, events, text, tool, input, CancelReply{true}, CancelReply{false}};
}

std::string json_of_encoding(const std::string& body) {
  auto converted = to_json(body);
  REQUIRE(converted.ok());
  return converted->dump();
}

}  // namespace

TEST_CASE("every reply written as json from its value reads as its msgpack encoding converted") {
  for (const RequestId& id : {RequestId{}, RequestId::from_int(-7), RequestId::from_string("req-1")}) {
    for (const ReplyBody& reply : every_reply()) {
      CHECK(reply_json(id, reply).dump() == json_of_encoding(encode_reply(id, reply)));
    }
  }
}

TEST_CASE("error replies written as json from their value read as their encoding converted") {
  const RequestId id = RequestId::from_string("x");
  for (const Error& e : {Error::rate_limited("slow down", 1500), Error::unknown_agent("who"),
                         Error::internal("")}) {
    CHECK(error_reply_json(id, e).dump() == json_of_encoding(encode_error_reply(id, e)));
  }
  const json j = error_reply_json(RequestId::from_int(3), Error::overloaded("busy", 100));
  CHECK(j == json{{"v", 1}, {"id", 3}, {"ok", false},
                  {"error", {{"code", "overloaded"}, {"message", "busy"}, {"retry_after_ms", 100}}}});
}

TEST_CASE("a partial error reply written as json has partial at both levels as its encoding") {
  for (Error e : {Error::provider_error("cut after part 2"), Error::timeout("deadline"),
                  Error::cancelled("cancelled by request c-1"), Error::rate_limited("x", 5)}) {
    e.partial = true;
    const json j = error_reply_json(RequestId::from_string("s-1"), e);
    CHECK(j.dump() == json_of_encoding(encode_error_reply(RequestId::from_string("s-1"), e)));
    CHECK(j["partial"] == true);
    CHECK(j["error"]["partial"] == true);
  }
  CHECK_FALSE(error_reply_json(RequestId{}, Error::cancelled("c")).contains("partial"));
}

TEST_CASE("invalid utf-8 in a reply value is replaced as the msgpack conversion replaces it") {
  CallReply r = sample_call_reply();
  r.text = "ok \xff\xc3 then \xe2\x82";
  r.attempts[0].code = "\x80";
  const RequestId id = RequestId::from_int(1);
  CHECK(reply_json(id, r).dump() == json_of_encoding(encode_reply(id, r)));
  const Error e = Error::provider_error("bad \xfe bytes");
  CHECK(error_reply_json(id, e).dump() == json_of_encoding(encode_error_reply(id, e)));
}

TEST_CASE("a stored call reply decodes back to its value") {
  const CallReply r = sample_call_reply();
  auto decoded = decode_call_reply(encode_reply(RequestId{}, r));
  REQUIRE(decoded.ok());
  CHECK(*decoded == r);
  CallReply replayed = r;
  replayed.replayed = true;
  auto again = decode_call_reply(encode_reply(RequestId::from_int(9), replayed));
  REQUIRE(again.ok());
  CHECK(again->replayed);
}

TEST_CASE("bytes that are not a call reply do not decode as one") {
  CHECK_FALSE(decode_call_reply("").ok());
  CHECK_FALSE(decode_call_reply("\xc1").ok());
  CHECK_FALSE(decode_call_reply(encode_error_reply(RequestId{}, Error::internal("no"))).ok());
  CHECK_FALSE(decode_call_reply(encode_reply(RequestId{}, PingReply{})).ok());
  const std::string body = encode_reply(RequestId{}, sample_call_reply());
  CHECK_FALSE(decode_call_reply(body + "\x01").ok());
  auto broken = to_json(body);
  REQUIRE(broken.ok());
  (*broken)["attempts"][1]["latency_ms"] = "slow";
  auto refused = decode_call_reply(from_json(*broken));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("attempts[1].latency_ms") != std::string::npos);
}
