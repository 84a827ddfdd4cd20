// Encoding and round trips: requests, replies, error replies, events, ids,
// JSON bridge, golden bytes.
#include <catch2/catch.hpp>

#include <chrono>
#include <variant>

#include "protocol/codec.h"
#include "tests/unit/protocol_test_util.h"

namespace protocol = tollgate::protocol;
using namespace protocol;
using protocol::testing::from_hex;
using protocol::testing::json_of;
using protocol::testing::to_hex;
using nlohmann::json;

namespace {

// One fully populated example of every op, in RequestBody order.
std::vector<RequestBody> every_op() {
  CallRequest full_call;
  full_call.ai_name = "guardian-2.b_x";
  full_call.messages = {{"user", "hello"}, {"assistant", "hi"}, {"user", "\xc3\xa9t\xc3\xa9"}};
  full_call.system = "be brief";
  full_call.max_tokens = 17000;
  full_call.temperature = 1.25;
  full_call.preferred_provider = "openai";
  full_call.model = "gpt-4.1";
  full_call.idempotency_key = std::string(128, 'k');
  full_call.timeout_ms = 30000;
  full_call.stream = true;
  return {
      PingRequest{},
      full_call,
      UsageRequest{"imperium"},
      SummaryRequest{},
      ProviderStatusRequest{"imperium"},
      RecommendRequest{"imperium"},
      EmergencyStatusRequest{},
      AlertsRequest{10000, 0, "*"},
      HistoryRequest{"imperium", 120},
      ResetRequest{"imperium", "anthropic", true},
      LedgerEventsRequest{10000, 0},
      CancelRequest{RequestId::from_string("call-7")},
  };
}

void require_round_trip(const RequestId& id, const RequestBody& body) {
  const std::string bytes = encode_request(id, body);
  auto decoded = decode_request(bytes);
  INFO(op_name(body) << " " << to_hex(bytes));
  if (!decoded.body) INFO(decoded.body.error().message);
  REQUIRE(decoded.body.ok());
  CHECK(decoded.id == id);
  CHECK(*decoded.body == body);
}

}  // namespace

TEST_CASE("every op round trips through encode_request and decode_request") {
  for (const auto& body : every_op()) require_round_trip(RequestId::from_int(42), body);
}

TEST_CASE("every op round trips with only its required fields") {
  const std::vector<RequestBody> minimal = {
      PingRequest{},          CallRequest{.ai_name = "a", .prompt = std::string("p")},
      UsageRequest{"a"},      SummaryRequest{},
      ProviderStatusRequest{}, RecommendRequest{"a"},
      EmergencyStatusRequest{}, AlertsRequest{},
      HistoryRequest{"a", std::nullopt}, ResetRequest{"a", std::nullopt, false},
      LedgerEventsRequest{}, CancelRequest{RequestId::from_int(0)},
  };
  for (const auto& body : minimal) require_round_trip(RequestId{}, body);
}

TEST_CASE("op names follow the order of RequestBody") {
  const std::vector<std::string_view> expected = {"ping",      "call",   "usage",   "summary",
                                                  "provider_status", "recommend",
                                                  "emergency_status", "alerts", "history", "reset",
                                                  "ledger_events", "cancel"};
  auto ops = every_op();
  REQUIRE(ops.size() == expected.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    CHECK(op_name(ops[i]) == expected[i]);
    auto j = json_of(encode_request(RequestId{}, ops[i]));
    CHECK(j["op"] == expected[i]);
    CHECK(j["v"] == 1);
    CHECK_FALSE(j.contains("id"));
  }
}

TEST_CASE("request ids of every kind are echoed in replies") {
  const std::vector<RequestId> ids = {RequestId{}, RequestId::from_int(0), RequestId::from_int(-5),
                                      RequestId::from_int(INT64_MAX), RequestId::from_string(""),
                                      RequestId::from_string(std::string(128, 'x'))};
  for (const auto& id : ids) {
    auto decoded = decode_request(encode_request(id, PingRequest{}));
    REQUIRE(decoded.body.ok());
    CHECK(decoded.id == id);
    auto reply = json_of(encode_reply(decoded.id, PingReply{"0.1.0", 5, 6}));
    auto request = json_of(encode_request(id, PingRequest{}));
    CHECK(reply["id"] == (id.is_nil() ? json(nullptr) : request["id"]));
  }
  CHECK(RequestId::from_int(-5).as_int() == -5);
  CHECK(RequestId::from_string("abc").as_string() == "abc");
  CHECK(RequestId::from_string("abc").as_int() == std::nullopt);
  CHECK(RequestId{}.to_display() == "nil");
  CHECK(RequestId::from_int(12).to_display() == "12");
  CHECK(RequestId::from_int(-12).to_display() == "-12");
  CHECK(RequestId::from_string("call-7").to_display() == "call-7");
  CHECK(RequestId{from_hex("91 01")}.to_display() == "?");  // an array: not an id this library writes
  CHECK(RequestId{from_hex("a5 61 62")}.as_string() == std::nullopt);  // truncated
}

TEST_CASE("an unsigned id above the int64 range is accepted and echoed") {
  auto decoded = decode_request(from_hex("82 a2 69 64 cf ff ff ff ff ff ff ff ff a2 6f 70 a4 70 69 6e 67"));
  REQUIRE(decoded.body.ok());
  CHECK(decoded.id.raw == from_hex("cf ff ff ff ff ff ff ff ff"));
  CHECK(decoded.id.to_display() == "18446744073709551615");
}

TEST_CASE("golden bytes of a call request") {
  // 86                      map of 6
  // a1 76 01                "v": 1
  // a2 69 64 07             "id": 7
  // a2 6f 70 a4 call        "op": "call"
  // a7 ai_name a8 imperium  "ai_name": "imperium"
  // a6 prompt a2 68 69      "prompt": "hi"
  // aa max_tokens 64        "max_tokens": 100
  const std::string golden = from_hex(
      "86 a1 76 01 a2 69 64 07 a2 6f 70 a4 63 61 6c 6c a7 61 69 5f 6e 61 6d 65 a8 69 6d 70 65 72"
      " 69 75 6d a6 70 72 6f 6d 70 74 a2 68 69 aa 6d 61 78 5f 74 6f 6b 65 6e 73 64");
  CallRequest call{.ai_name = "imperium", .prompt = std::string("hi"), .max_tokens = 100};
  CHECK(to_hex(encode_request(RequestId::from_int(7), call)) == to_hex(golden));
  auto decoded = decode_request(golden);
  REQUIRE(decoded.body.ok());
  CHECK(std::get<CallRequest>(*decoded.body) == call);
}

TEST_CASE("a cancel target of every id kind round trips and is read by the rules of id") {
  for (const auto& target :
       {RequestId::from_int(0), RequestId::from_int(-5), RequestId::from_int(INT64_MAX),
        RequestId::from_string(""), RequestId::from_string(std::string(128, 't'))}) {
    require_round_trip(RequestId::from_string("c1"), CancelRequest{target});
  }
  // Above the int64 range, as an id may be: {"op": "cancel", "target": 2^64 - 1}.
  auto decoded = decode_request(from_hex("82 a2 6f 70 a6 63 61 6e 63 65 6c a6 74 61 72 67 65 74"
                                         " cf ff ff ff ff ff ff ff ff"));
  REQUIRE(decoded.body.ok());
  CHECK(std::get<CancelRequest>(*decoded.body).target.raw ==
        from_hex("cf ff ff ff ff ff ff ff ff"));
  // The target is the call's id as the daemon holds it: msgpack's shortest
  // form, whatever form the client wrote (5 as uint16 here).
  auto wide = decode_request(
      from_hex("82 a2 6f 70 a6 63 61 6e 63 65 6c a6 74 61 72 67 65 74 cd 00 05"));
  REQUIRE(wide.body.ok());
  CHECK(std::get<CancelRequest>(*wide.body).target == RequestId::from_int(5));
  CHECK(json_of(encode_request(RequestId{}, CancelRequest{RequestId::from_string("call-7")})) ==
        json{{"v", 1}, {"op", "cancel"}, {"target", "call-7"}});
}

TEST_CASE("a streamed call writes stream true and an unstreamed call leaves it out") {
  CallRequest call{.ai_name = "imperium", .prompt = std::string("hi"), .max_tokens = 100};
  CHECK_FALSE(json_of(encode_request(RequestId::from_int(7), call)).contains("stream"));
  call.stream = true;
  const std::string bytes = encode_request(RequestId::from_int(7), call);
  CHECK(json_of(bytes)["stream"] == true);
  auto decoded = decode_request(bytes);
  REQUIRE(decoded.body.ok());
  CHECK(std::get<CallRequest>(*decoded.body).stream);
  // stream is not section 8: the call stays text-only.
  CHECK_FALSE(call.full_fidelity());
}

TEST_CASE("an error reply with partial writes partial at the top and in the error map") {
  Error e = Error::provider_error("anthropic: connection cut after part 3");
  e.partial = true;
  auto j = json_of(encode_error_reply(RequestId::from_int(4), e));
  CHECK(j == json{{"v", 1}, {"id", 4}, {"ok", false}, {"partial", true},
                  {"error", {{"code", "provider_error"},
                             {"message", "anthropic: connection cut after part 3"},
                             {"partial", true}}}});
  Error timed_out = Error::rate_limited("later", 250);
  timed_out.partial = true;
  auto t = json_of(encode_error_reply(RequestId{}, timed_out));
  CHECK(t["error"] == json{{"code", "rate_limited"}, {"message", "later"}, {"retry_after_ms", 250},
                           {"partial", true}});
  CHECK_FALSE(json_of(encode_error_reply(RequestId{}, Error::cancelled("c"))).contains("partial"));
}

TEST_CASE("each chunk type of a call part writes only its own fields") {
  auto chunk_of = [](StreamChunk c) {
    return json_of(encode_reply(RequestId::from_int(1), CallPartReply{3, std::move(c)}));
  };
  auto text = chunk_of({StreamChunk::Type::kTextDelta, 0, "Hel", "", ""});
  CHECK(text == json{{"v", 1}, {"id", 1}, {"ok", true}, {"part", 3},
                     {"chunk", {{"type", "text_delta"}, {"index", 0}, {"text", "Hel"}}}});
  CHECK(chunk_of({StreamChunk::Type::kToolUseStart, 1, "", "toolu_1", "get_weather"})["chunk"] ==
        json{{"type", "tool_use_start"}, {"index", 1}, {"id", "toolu_1"}, {"name", "get_weather"}});
  CHECK(chunk_of({StreamChunk::Type::kInputJsonDelta, 1, "{\"city\": \"Pa", "", ""})["chunk"] ==
        json{{"type", "input_json_delta"}, {"index", 1}, {"partial_json", "{\"city\": \"Pa"}});
  CHECK(json_of(encode_reply(RequestId::from_string("x"), CancelReply{true})) ==
        json{{"v", 1}, {"id", "x"}, {"ok", true}, {"found", true}});
}

TEST_CASE("golden bytes of a call reply") {
  // 8e map of 14: v 1, id 7, ok true, text "ok", provider "anthropic",
  // model "m", reason "primary", usage {input 1 output 2 total 3},
  // cost_usd float64 0.5 (cb 3f e0 ...), attempts [ {provider anthropic
  // outcome ok code nil latency_ms 1.5} ], latency_ms 2.0, replayed false,
  // content [] and stop_reason nil (section 8: always written).
  const std::string golden = from_hex(
      "8e a1 76 01 a2 69 64 07 a2 6f 6b c3 a4 74 65 78 74 a2 6f 6b a8 70 72 6f 76 69 64 65 72 a9"
      " 61 6e 74 68 72 6f 70 69 63 a5 6d 6f 64 65 6c a1 6d a6 72 65 61 73 6f 6e a7 70 72 69 6d 61"
      " 72 79 a5 75 73 61 67 65 83 ac 69 6e 70 75 74 5f 74 6f 6b 65 6e 73 01 ad 6f 75 74 70 75 74"
      " 5f 74 6f 6b 65 6e 73 02 ac 74 6f 74 61 6c 5f 74 6f 6b 65 6e 73 03 a8 63 6f 73 74 5f 75 73"
      " 64 cb 3f e0 00 00 00 00 00 00 a8 61 74 74 65 6d 70 74 73 91 84 a8 70 72 6f 76 69 64 65 72"
      " a9 61 6e 74 68 72 6f 70 69 63 a7 6f 75 74 63 6f 6d 65 a2 6f 6b a4 63 6f 64 65 c0 aa 6c 61"
      " 74 65 6e 63 79 5f 6d 73 cb 3f f8 00 00 00 00 00 00 aa 6c 61 74 65 6e 63 79 5f 6d 73 cb 40"
      " 00 00 00 00 00 00 00 a8 72 65 70 6c 61 79 65 64 c2 a7 63 6f 6e 74 65 6e 74 90 ab 73 74 6f 70"
      " 5f 72 65 61 73 6f 6e c0");
  CallReply reply;
  reply.text = "ok";
  reply.provider = "anthropic";
  reply.model = "m";
  reply.reason = "primary";
  reply.usage = {1, 2, 3};
  reply.cost_usd = 0.5;
  reply.attempts = {{"anthropic", "ok", std::nullopt, 1.5}};
  reply.latency_ms = 2.0;
  reply.replayed = false;
  CHECK(to_hex(encode_reply(RequestId::from_int(7), reply)) == to_hex(golden));
}

TEST_CASE("every error code encodes with its wire name") {
  const std::vector<std::pair<Error, std::string>> cases = {
      {Error::bad_request("m"), "bad_request"},
      {Error::unsupported_version("m"), "unsupported_version"},
      {Error::unknown_op("m"), "unknown_op"},
      {Error::unknown_agent("m"), "unknown_agent"},
      {Error::too_large("m"), "too_large"},
      {Error::budget_exhausted("m"), "budget_exhausted"},
      {Error::rate_limited("m", 1500), "rate_limited"},
      {Error::provider_error("m"), "provider_error"},
      {Error::not_configured("m"), "not_configured"},
      {Error::emergency_shutdown("m"), "emergency_shutdown"},
      {Error::unauthorized("m"), "unauthorized"},
      {Error::timeout("m"), "timeout"},
      {Error::overloaded("m", 20), "overloaded"},
      {Error::cancelled("m"), "cancelled"},
      {Error::ledger_unavailable("m", 1000), "ledger_unavailable"},
      {Error::internal("m"), "internal"},
  };
  REQUIRE(cases.size() == 16);
  for (const auto& [error, name] : cases) {
    CHECK(code_name(error.code) == name);
    CHECK(code_from_name(name) == error.code);
    auto j = json_of(encode_error_reply(RequestId::from_string("r1"), error));
    INFO(j.dump());
    CHECK(j["v"] == 1);
    CHECK(j["id"] == "r1");
    CHECK(j["ok"] == false);
    CHECK(j["error"]["code"] == name);
    CHECK(j["error"]["message"] == "m");
    CHECK(j["error"].contains("retry_after_ms") == error.retry_after_ms.has_value());
    if (error.retry_after_ms) CHECK(j["error"]["retry_after_ms"] == *error.retry_after_ms);
    CHECK(j.size() == 4);
  }
  CHECK(code_from_name("no_such_code") == std::nullopt);
}

TEST_CASE("an error reply to an unreadable request has a nil id") {
  auto j = json_of(encode_error_reply(RequestId{}, Error::bad_request("x")));
  CHECK(j["id"].is_null());
}

TEST_CASE("replies write every field and nil for absent optionals") {
  SummaryReply s;
  s.period = "2025-01";
  s.providers["anthropic"] = {10, 2, std::nullopt, 0, 3, 0.25};
  s.providers["openai"] = {5, 0, 100, 5.0, 1, 0};
  s.agents.push_back({"imperium", "normal", {{"anthropic", {10, 140000, 0.01}}}});
  s.totals = {15, 4, 0.25};
  auto j = json_of(encode_reply(RequestId::from_int(1), s));
  INFO(j.dump());
  CHECK(j["ok"] == true);
  CHECK(j["providers"]["anthropic"]["limit"].is_null());
  CHECK(j["providers"]["openai"]["limit"] == 100);
  CHECK(j["providers"]["anthropic"]["reserved"] == 2);
  CHECK(j["agents"][0]["providers"]["anthropic"]["limit"] == 140000);
  CHECK(j["totals"]["cost_usd"] == 0.25);

  RecommendReply none{std::nullopt, "both_exhausted", false};
  auto r = json_of(encode_reply(RequestId{}, none));
  CHECK(r.contains("provider"));
  CHECK(r["provider"].is_null());
  CHECK(r["available"] == false);
}

TEST_CASE("each reply type carries the fields named in the protocol") {
  using Keys = std::vector<std::string>;
  auto keys_of = [](const ReplyBody& reply) {
    auto j = json_of(encode_reply(RequestId{}, reply));
    Keys k;
    for (const auto& [key, value] : j.items()) k.push_back(key);
    std::sort(k.begin(), k.end());
    return k;
  };
  auto with_common = [](Keys k) {
    k.insert(k.end(), {"id", "ok", "v"});
    std::sort(k.begin(), k.end());
    return k;
  };
  CHECK(keys_of(PingReply{}) == with_common({"pid", "uptime_ms", "version"}));
  CHECK(keys_of(UsageReply{}) == with_common({"ai_name", "level", "period", "providers", "recommended"}));
  CHECK(keys_of(SummaryReply{}) == with_common({"agents", "period", "providers", "totals"}));
  CHECK(keys_of(ProviderStatusReply{}) == with_common({"agents", "providers"}));
  CHECK(keys_of(RecommendReply{}) == with_common({"available", "provider", "reason"}));
  CHECK(keys_of(EmergencyStatusReply{}) ==
        with_common({"agents_at_risk", "level", "providers", "reasons", "shutdown"}));
  CHECK(keys_of(AlertsReply{}) == with_common({"alerts"}));
  CHECK(keys_of(HistoryReply{}) == with_common({"ai_name", "months"}));
  CHECK(keys_of(ResetReply{}) == with_common({"ai_name", "cleared", "period"}));
  CHECK(keys_of(LedgerEventsReply{}) == with_common({"events"}));
  CHECK(keys_of(CallPartReply{}) == with_common({"chunk", "part"}));
  CHECK(keys_of(CancelReply{}) == with_common({"found"}));
  CHECK(keys_of(CallReply{}) == with_common({"attempts", "content", "cost_usd", "latency_ms", "model",
                                             "provider", "reason", "replayed", "stop_reason", "text",
                                             "usage"}));
}

TEST_CASE("nested reply structures encode with their protocol keys") {
  ProviderStatusReply ps;
  ps.providers["anthropic"] = {true, "half_open", {1, 42, 7, 3400}, 9, std::nullopt, 0};
  ps.agents.push_back({"imperium", "anthropic", "primary", {{"openai", {false, 96.5, "fallback_threshold"}}}});
  auto j = json_of(encode_reply(RequestId{}, ps));
  INFO(j.dump());
  CHECK(j["providers"]["anthropic"]["rate"] == json{{"minute_used", 1}, {"minute_limit", 42},
                                                    {"day_used", 7}, {"day_limit", 3400}});
  CHECK(j["providers"]["anthropic"]["circuit"] == "half_open");
  CHECK(j["agents"][0]["providers"]["openai"]["why"] == "fallback_threshold");

  HistoryReply h{"imperium", {{"2025-02", {{"anthropic", {100, 2, 40}}}, 100, 0.5}, {"2025-01", {}, 0, 0}}};
  auto hj = json_of(encode_reply(RequestId{}, h));
  CHECK(hj["months"].size() == 2);
  CHECK(hj["months"][0]["providers"]["anthropic"] == json{{"used", 100}, {"requests", 2}, {"cleared", 40}});
  CHECK(hj["months"][1]["total_tokens"] == 0);

  EmergencyStatusReply e{"warning", false, {"openai at 85%"}, {}, {{"imperium", "openai", 85.0, "warning"}}};
  auto ej = json_of(encode_reply(RequestId{}, e));
  CHECK(ej["agents_at_risk"][0] == json{{"ai_name", "imperium"}, {"provider", "openai"},
                                        {"percentage", 85.0}, {"level", "warning"}});
  CHECK(ej["reasons"][0] == "openai at 85%");

  UsageReply u{"imperium", "2025-02", "normal", std::nullopt, {{"anthropic", {1, 2, 10, 7, 10.0, 1, 0}}}};
  auto uj = json_of(encode_reply(RequestId{}, u));
  CHECK(uj["recommended"].is_null());
  CHECK(uj["providers"]["anthropic"]["remaining"] == 7);

  ResetReply r{"imperium", "2025-02", {{"anthropic", 500}, {"openai", 0}}};
  CHECK(json_of(encode_reply(RequestId{}, r))["cleared"] == json{{"anthropic", 500}, {"openai", 0}});
}

TEST_CASE("events carry their topic and seq") {
  UsageEvent u;
  u.ai_name = "imperium";
  u.provider = "anthropic";
  u.total_tokens = 30;
  u.request_id = RequestId::from_string("abc");
  auto eu = encode_event(u, 1);
  CHECK(eu.topic == "usage.imperium");
  auto ju = json_of(eu.body);
  CHECK(ju["seq"] == 1);
  CHECK(ju["request_id"] == "abc");
  CHECK(ju["total_tokens"] == 30);
  CHECK(ju.size() == 13);

  AlertEvent a{"critical", "*", "openai", 0.95, 95.5, 95, 100, "2025-02", 1700000000000, "openai global at 95%"};
  auto ea = encode_event(a, 2);
  CHECK(ea.topic == "alert.critical");
  auto ja = json_of(ea.body);
  CHECK(ja["ai_name"] == "*");
  CHECK(ja["seq"] == 2);
  CHECK(ja.size() == 11);

  auto ep = encode_event(ProviderEvent{"openai", "open", "5 consecutive failures", 1}, 3);
  CHECK(ep.topic == "provider.openai");
  CHECK(json_of(ep.body) == json{{"provider", "openai"}, {"circuit", "open"},
                                 {"reason", "5 consecutive failures"}, {"at_ms", 1}, {"seq", 3}});
}

TEST_CASE("ledger events carry their kind and data") {
  auto reset = encode_event(LedgerEvent{LedgerReset{"imperium", "2025-02", {{"anthropic", 10}}}, 5}, 7);
  CHECK(reset.topic == "ledger");
  CHECK(json_of(reset.body) == json{{"kind", "reset"}, {"ai_name", "imperium"}, {"period", "2025-02"},
                                    {"cleared", {{"anthropic", 10}}}, {"at_ms", 5}, {"seq", 7}});
  auto roll = encode_event(LedgerEvent{LedgerRollover{"2025-03", "2025-02"}, 6}, 8);
  CHECK(json_of(roll.body) == json{{"kind", "rollover"}, {"period", "2025-03"},
                                   {"previous_period", "2025-02"}, {"at_ms", 6}, {"seq", 8}});
  LedgerRecovered rec{{{"imperium", "openai", "2025-02", 1200}}, 1200};
  auto jr = json_of(encode_event(LedgerEvent{rec, 9}, 10).body);
  CHECK(jr["kind"] == "recovered");
  CHECK(jr["entries"][0] == json{{"ai_name", "imperium"}, {"provider", "openai"},
                                 {"period", "2025-02"}, {"tokens", 1200}});
  CHECK(jr["total_tokens"] == 1200);
}

TEST_CASE("ledger_events replies hold the ledger event bodies without seq") {
  const LedgerEvent reset{LedgerReset{"imperium", "2025-02", {{"anthropic", 10}}}, 5};
  const LedgerEvent rec{LedgerRecovered{{{"imperium", "openai", "2025-02", 1200}}, 1200}, 9};
  auto j = json_of(encode_reply(RequestId{}, LedgerEventsReply{{rec, reset}}));
  REQUIRE(j["events"].size() == 2);
  for (const auto& [index, event] : {std::pair{0, rec}, std::pair{1, reset}}) {
    json published = json_of(encode_event(event, 77).body);
    published.erase("seq");
    CHECK(j["events"][index] == published);
  }
  CHECK(j["events"][0]["kind"] == "recovered");
  CHECK(j["events"][1]["cleared"] == json{{"anthropic", 10}});
}

TEST_CASE("alert bodies decode back from events and alerts replies keep them") {
  AlertEvent a{"warning", "imperium", "anthropic", 0.8, 80.5, 112700, 140000, "2025-02", 17, "m"};
  auto decoded = decode_alert_event(encode_event(a, 4).body);
  REQUIRE(decoded.ok());
  CHECK(*decoded == a);
  CHECK_FALSE(decode_alert_event(from_hex("81 a5 6c 65 76 65 6c 01")).ok());

  auto j = json_of(encode_reply(RequestId{}, AlertsReply{{a, a}}));
  CHECK(j["alerts"].size() == 2);
  CHECK(j["alerts"][0]["level"] == "warning");
}

TEST_CASE("json converts to msgpack and back") {
  json j = {{"s", "x"}, {"i", -3}, {"u", 4}, {"f", 0.5}, {"b", true}, {"n", nullptr},
            {"a", {1, 2, {{"k", "v"}}}}};
  const std::string bytes = from_json(j);
  CHECK(json_of(bytes) == j);
  // Floats are always float64 (cb), even when float32 would be exact.
  CHECK(to_hex(from_json(json(0.5))) == "cb 3f e0 00 00 00 00 00 00");
  CHECK(to_hex(from_json(json(5))) == "05");
}

TEST_CASE("to_json handles every msgpack type without throwing") {
  // map {1: bin[2], "e": ext type 5 of 1 byte, "f": float32 1.5, "x": invalid UTF-8}
  auto j = to_json(from_hex("84 01 c4 02 aa bb a1 65 d4 05 07 a1 66 ca 3f c0 00 00 a1 78 a2 ff 41"));
  REQUIRE(j.ok());
  INFO(j->dump());
  CHECK((*j)["1"].is_binary());
  CHECK((*j)["e"].get_binary().subtype() == 5);
  CHECK((*j)["f"] == 1.5);
  CHECK((*j)["x"] == "\xEF\xBF\xBD" "A");
  CHECK_NOTHROW(j->dump());
  CHECK_FALSE(to_json(from_hex("81 a1 61")).ok());
  CHECK_FALSE(to_json(from_hex("01 02")).ok());
  CHECK_FALSE(to_json("").ok());
  CHECK_FALSE(to_json(from_hex("dd ff ff ff ff")).ok());
}

TEST_CASE("to_json writes container map keys as the hex of their msgpack bytes") {
  // {[1, 2]: true, b"\xab": 1, 7: nil}
  auto j = to_json(from_hex("83 92 01 02 c3 c4 01 ab 01 07 c0"));
  REQUIRE(j.ok());
  CHECK(j->dump() == R"({"7":null,"msgpack:920102":true,"msgpack:c401ab":1})");
}

TEST_CASE("to_json output stays linear in the input when map keys nest 20 deep") {
  // A ping whose extra field "x" is a map keyed by a map keyed by a map ...
  // 20 levels down to {"a": 1}. The decoder accepts it (unknown fields are
  // ignored); each level's key used to be the escaped JSON text of the one
  // inside it, doubling per level (a fuzz_decoder out-of-memory).
  const std::string body = from_hex("82 a2 6f 70 a4 70 69 6e 67 a1 78 81") + std::string(20, '\x81') +
                           from_hex("a1 61 01") + std::string(20, '\x01');
  REQUIRE(decode_request(body).body.ok());
  auto j = to_json(body);
  REQUIRE(j.ok());
  const std::string text = j->dump();
  INFO(text);
  CHECK(text.size() < 4 * body.size());
  CHECK((*j)["op"] == "ping");
}

TEST_CASE("decode validate and encode reply of a call request runs fast", "[.benchmark]") {
  const std::string body = encode_request(
      RequestId::from_int(123456),
      CallRequest{.ai_name = "imperium", .prompt = std::string("Summarise the incident report in three lines."),
                  .max_tokens = 512, .temperature = 0.2});
  CallReply reply;
  reply.text = "Three lines of summary.";
  reply.provider = "anthropic";
  reply.model = "claude";
  reply.reason = "primary";
  reply.usage = {40, 20, 60};
  reply.attempts = {{"anthropic", "ok", std::nullopt, 120.5}};
  constexpr int kRounds = 1'000'000;
  size_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto decoded = decode_request(body);
    bytes += encode_reply(decoded.id, reply).size();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("request bytes " << body.size() << " rounds/s " << kRounds / secs);
  CHECK(bytes > 0);
}
