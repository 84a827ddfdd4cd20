// decode_request's validation rules: one failing case per rule, checking the
// error code and that the message names the field.
#include <catch2/catch.hpp>

#include "protocol/codec.h"
#include "tests/unit/protocol_test_util.h"

namespace protocol = tollgate::protocol;
using namespace protocol;
using protocol::testing::decode_json;
using protocol::testing::from_hex;
using nlohmann::json;

namespace {

json call(json extra) {
  json j = {{"op", "call"}, {"ai_name", "imperium"}, {"prompt", "hello"}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

// Requires decoding `j` to fail with `code` and a message starting with `prefix`.
void require_error(const json& j, ErrorCode code, const std::string& prefix) {
  auto d = decode_json(j);
  INFO(j.dump(-1, ' ', false, json::error_handler_t::replace));
  REQUIRE_FALSE(d.body.ok());
  INFO(d.body.error().message);
  CHECK(d.body.error().code == code);
  CHECK(d.body.error().message.rfind(prefix, 0) == 0);
}

void require_bad(const json& j, const std::string& prefix) {
  require_error(j, ErrorCode::kBadRequest, prefix);
}

template <class T>
T require_ok(const json& j, const DecodeLimits& limits = {}) {
  auto d = decode_json(j, limits);
  INFO(j.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!d.body) INFO(d.body.error().message);
  REQUIRE(d.body.ok());
  REQUIRE(std::holds_alternative<T>(*d.body));
  return std::get<T>(*d.body);
}

}  // namespace

TEST_CASE("v must be the integer 1 when present") {
  require_ok<PingRequest>({{"op", "ping"}, {"v", 1}});
  require_ok<PingRequest>({{"op", "ping"}, {"v", nullptr}});
  require_error({{"op", "ping"}, {"v", 2}}, ErrorCode::kUnsupportedVersion, "v: ");
  require_error({{"op", "ping"}, {"v", -1}}, ErrorCode::kUnsupportedVersion, "v: ");
  require_bad({{"op", "ping"}, {"v", "1"}}, "v: ");
  require_bad({{"op", "ping"}, {"v", 1.0}}, "v: ");
}

TEST_CASE("unsupported version wins over an unknown op") {
  require_error({{"op", "fly"}, {"v", 2}}, ErrorCode::kUnsupportedVersion, "v: ");
}

TEST_CASE("op is required and must be known") {
  require_bad({{"ai_name", "x"}}, "op: required");
  require_bad({{"op", 5}}, "op: ");
  require_error({{"op", "fly"}}, ErrorCode::kUnknownOp, "op: unknown operation \"fly\"");
  require_error({{"op", "PING"}}, ErrorCode::kUnknownOp, "op: ");
}

TEST_CASE("unknown keys are ignored and nil means absent") {
  auto c = require_ok<CallRequest>(call({{"future_field", {{"x", {1, 2, 3}}}}, {"system", nullptr}}));
  CHECK_FALSE(c.system.has_value());
}

TEST_CASE("ai_name must be 1 to 64 chars of the allowed set") {
  const std::string rule = "ai_name: 1-64 chars of [A-Za-z0-9_.-]";
  require_bad(call({{"ai_name", ""}}), rule);
  require_bad(call({{"ai_name", std::string(65, 'a')}}), rule);
  require_bad(call({{"ai_name", "bad name"}}), rule);
  require_bad(call({{"ai_name", "caf\xc3\xa9"}}), rule);
  require_bad(call({{"ai_name", 7}}), rule);
  require_bad({{"op", "call"}, {"prompt", "x"}}, "ai_name: required");
  CHECK(require_ok<CallRequest>(call({{"ai_name", std::string(64, 'Z')}})).ai_name.size() == 64);
}

TEST_CASE("call needs exactly one of prompt or messages") {
  const std::string rule = "call: exactly one of prompt or messages";
  require_bad({{"op", "call"}, {"ai_name", "a"}}, rule);
  require_bad(call({{"messages", {{{"role", "user"}, {"content", "x"}}}}}), rule);
  require_bad(call({{"prompt", ""}}), "prompt: non-empty string");
  require_bad(call({{"prompt", 5}}), "prompt: ");
}

TEST_CASE("messages must be a non-empty array of role and content maps") {
  json base = {{"op", "call"}, {"ai_name", "a"}};
  auto with = [&](json messages) {
    json j = base;
    j["messages"] = messages;
    return j;
  };
  require_bad(with(json::array()), "messages: non-empty array");
  require_bad(with("hello"), "messages: non-empty array");
  require_bad(with({"hello"}), "messages[0]: map");
  require_bad(with({{{"role", "system"}, {"content", "x"}}}), "messages[0].role: user or assistant");
  require_bad(with({{{"role", "user"}, {"content", "x"}}, {{"content", "y"}}}), "messages[1].role: required");
  require_bad(with({{{"role", "user"}, {"content", 3}}}), "messages[0].content: ");
  require_bad(with({{{"role", "user"}}}), "messages[0].content: required");
  auto c = require_ok<CallRequest>(with({{{"role", "user"}, {"content", "x"}}, {{"role", "assistant"}, {"content", ""}}}));
  CHECK(c.messages.size() == 2);
}

TEST_CASE("a conversation that opens with an assistant message gets bad_request naming messages 0 role") {
  json j = {{"op", "call"}, {"ai_name", "a"}};
  j["messages"] = {{{"role", "assistant"}, {"content", "I spoke first"}}, {{"role", "user"}, {"content", "x"}}};
  require_bad(j, "messages[0].role: a conversation starts with a user message");
  j["messages"] = {{{"role", "user"}, {"content", "x"}}, {{"role", "assistant"}, {"content", "y"}},
                   {{"role", "assistant"}, {"content", "z"}}};
  CHECK(require_ok<CallRequest>(j).messages.size() == 3);
}

TEST_CASE("a message map with a non-string key is rejected") {
  // {"op":"call","ai_name":"a","messages":[{1:2}]}
  auto d = decode_request(from_hex("83 a2 6f 70 a4 63 61 6c 6c a7 61 69 5f 6e 61 6d 65 a1 61"
                                   " a8 6d 65 73 73 61 67 65 73 91 81 01 02"));
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().message.rfind("messages[0]: map keys must be strings", 0) == 0);
}

TEST_CASE("max_tokens must be an integer within the per-request cap") {
  require_bad(call({{"max_tokens", 0}}), "max_tokens: integer from 1 to 17000");
  require_bad(call({{"max_tokens", 17001}}), "max_tokens: integer from 1 to 17000");
  require_bad(call({{"max_tokens", -1}}), "max_tokens: ");
  require_bad(call({{"max_tokens", 10.0}}), "max_tokens: ");
  require_bad(call({{"max_tokens", "10"}}), "max_tokens: ");
  DecodeLimits small;
  small.max_tokens_per_request = 100;
  auto d = decode_json(call({{"max_tokens", 101}}), small);
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().message == "max_tokens: integer from 1 to 100");
  CHECK(require_ok<CallRequest>(call({{"max_tokens", 17000}})).max_tokens == 17000u);
}

TEST_CASE("temperature must be a number from 0 to 2") {
  const std::string rule = "temperature: number from 0 to 2";
  require_bad(call({{"temperature", -0.1}}), rule);
  require_bad(call({{"temperature", 2.5}}), rule);
  require_bad(call({{"temperature", 3}}), rule);
  require_bad(call({{"temperature", "hot"}}), rule);
  require_bad(call({{"temperature", std::nan("")}}), rule);
  CHECK(require_ok<CallRequest>(call({{"temperature", 2}})).temperature == 2.0);
  CHECK(require_ok<CallRequest>(call({{"temperature", 0}})).temperature == 0.0);
}

TEST_CASE("temperature accepts a float32") {
  // {"op":"call","ai_name":"a","prompt":"p","temperature":float32 0.5}
  auto d = decode_request(from_hex("84 a2 6f 70 a4 63 61 6c 6c a7 61 69 5f 6e 61 6d 65 a1 61 a6 70 72"
                                   " 6f 6d 70 74 a1 70 ab 74 65 6d 70 65 72 61 74 75 72 65 ca 3f 00 00 00"));
  REQUIRE(d.body.ok());
  CHECK(std::get<CallRequest>(*d.body).temperature == 0.5);
}

TEST_CASE("optional call strings are checked for type and length") {
  require_bad(call({{"system", 1}}), "system: string");
  require_bad(call({{"preferred_provider", ""}}), "preferred_provider: string of 1-128 bytes");
  require_bad(call({{"model", std::string(257, 'm')}}), "model: string of 1-256 bytes");
  require_bad(call({{"idempotency_key", std::string(129, 'k')}}), "idempotency_key: string of 1-128 bytes");
  require_bad(call({{"idempotency_key", 5}}), "idempotency_key: ");
  require_bad(call({{"timeout_ms", 0}}), "timeout_ms: integer from 1 to ");
  require_bad(call({{"timeout_ms", "soon"}}), "timeout_ms: ");
}

TEST_CASE("strings must be valid UTF-8") {
  require_bad(call({{"prompt", "\xff\xfe"}}), "prompt: not valid UTF-8");
  require_bad(call({{"system", "\xc0\x80"}}), "system: not valid UTF-8");          // overlong
  require_bad(call({{"system", "\xed\xa0\x80"}}), "system: not valid UTF-8");      // surrogate
  require_bad(call({{"system", "\xf4\x90\x80\x80"}}), "system: not valid UTF-8");  // > U+10FFFF
  CHECK(require_ok<CallRequest>(call({{"prompt", "\xf0\x9f\x98\x80 ok"}})).prompt == "\xf0\x9f\x98\x80 ok");
}

TEST_CASE("a known key given twice is rejected") {
  // {"op":"ping","op":"ping"}
  auto d = decode_request(from_hex("82 a2 6f 70 a4 70 69 6e 67 a2 6f 70 a4 70 69 6e 67"));
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().message == "op: given more than once");
}

TEST_CASE("agent ops require a valid ai_name") {
  for (const char* op : {"usage", "recommend", "history", "reset"}) {
    require_bad({{"op", op}}, "ai_name: required");
    require_bad({{"op", op}, {"ai_name", "no/slash"}}, "ai_name: ");
  }
  CHECK(require_ok<UsageRequest>({{"op", "usage"}, {"ai_name", "imperium"}}).ai_name == "imperium");
}

TEST_CASE("provider_status takes an optional ai_name") {
  CHECK_FALSE(require_ok<ProviderStatusRequest>({{"op", "provider_status"}}).ai_name.has_value());
  CHECK(require_ok<ProviderStatusRequest>({{"op", "provider_status"}, {"ai_name", "x"}}).ai_name == "x");
  require_bad({{"op", "provider_status"}, {"ai_name", ""}}, "ai_name: ");
}

TEST_CASE("history months must be from 1 to 120") {
  require_bad({{"op", "history"}, {"ai_name", "a"}, {"months", 0}}, "months: integer from 1 to 120");
  require_bad({{"op", "history"}, {"ai_name", "a"}, {"months", 121}}, "months: integer from 1 to 120");
  require_bad({{"op", "history"}, {"ai_name", "a"}, {"months", "6"}}, "months: ");
  CHECK(require_ok<HistoryRequest>({{"op", "history"}, {"ai_name", "a"}, {"months", 120}}).months == 120u);
}

TEST_CASE("alerts limit since_ms and ai_name are range checked") {
  require_bad({{"op", "alerts"}, {"limit", 0}}, "limit: integer from 1 to 10000");
  require_bad({{"op", "alerts"}, {"limit", 10001}}, "limit: integer from 1 to 10000");
  require_bad({{"op", "alerts"}, {"since_ms", -1}}, "since_ms: integer from 0 to ");
  require_bad({{"op", "alerts"}, {"since_ms", 1.5}}, "since_ms: ");
  require_bad({{"op", "alerts"}, {"ai_name", "**"}}, "ai_name: ");
  auto a = require_ok<AlertsRequest>({{"op", "alerts"}, {"limit", 5}, {"since_ms", 0}, {"ai_name", "*"}});
  CHECK(a.limit == 5u);
  CHECK(a.since_ms == 0);
  CHECK(a.ai_name == "*");
}

TEST_CASE("ledger_events limit and since_ms are range checked") {
  require_bad({{"op", "ledger_events"}, {"limit", 0}}, "limit: integer from 1 to 10000");
  require_bad({{"op", "ledger_events"}, {"limit", 10001}}, "limit: integer from 1 to 10000");
  require_bad({{"op", "ledger_events"}, {"since_ms", -1}}, "since_ms: integer from 0 to ");
  require_bad({{"op", "ledger_events"}, {"since_ms", "0"}}, "since_ms: ");
  auto e = require_ok<LedgerEventsRequest>({{"op", "ledger_events"}, {"limit", 5}, {"since_ms", 0}});
  CHECK(e.limit == 5u);
  CHECK(e.since_ms == 0);
  auto none = require_ok<LedgerEventsRequest>({{"op", "ledger_events"}});
  CHECK_FALSE(none.limit.has_value());
  CHECK_FALSE(none.since_ms.has_value());
}

TEST_CASE("reset takes an optional provider string") {
  require_bad({{"op", "reset"}, {"ai_name", "a"}, {"provider", 1}}, "provider: string of 1-128 bytes");
  require_bad({{"op", "reset"}, {"ai_name", "a"}, {"provider", ""}}, "provider: ");
  CHECK(require_ok<ResetRequest>({{"op", "reset"}, {"ai_name", "a"}}).provider == std::nullopt);
}

TEST_CASE("stream on a call must be a bool") {
  CHECK(require_ok<CallRequest>(call({{"stream", true}})).stream);
  CHECK_FALSE(require_ok<CallRequest>(call({{"stream", false}})).stream);
  CHECK_FALSE(require_ok<CallRequest>(call({{"stream", nullptr}})).stream);
  CHECK_FALSE(require_ok<CallRequest>(call({})).stream);
  require_bad(call({{"stream", 1}}), "stream: true or false");
  require_bad(call({{"stream", "true"}}), "stream: true or false");
  require_bad(call({{"stream", json::object()}}), "stream: true or false");
}

TEST_CASE("cache on a call must be a bool and is written only when true") {
  CHECK(require_ok<CallRequest>(call({{"cache", true}})).cache);
  CHECK_FALSE(require_ok<CallRequest>(call({{"cache", false}})).cache);
  CHECK_FALSE(require_ok<CallRequest>(call({{"cache", nullptr}})).cache);
  CHECK_FALSE(require_ok<CallRequest>(call({})).cache);
  require_bad(call({{"cache", 1}}), "cache: true or false");
  require_bad(call({{"cache", "yes"}}), "cache: true or false");
  CallRequest r = require_ok<CallRequest>(call({{"cache", true}}));
  CHECK(to_json(encode_request(RequestId{}, r))->value("cache", false));
  r.cache = false;
  CHECK_FALSE(to_json(encode_request(RequestId{}, r))->contains("cache"));
}

TEST_CASE("cancel needs a target that is a string or an integer like an id") {
  CHECK(require_ok<CancelRequest>({{"op", "cancel"}, {"target", "call-1"}}).target ==
        RequestId::from_string("call-1"));
  CHECK(require_ok<CancelRequest>({{"op", "cancel"}, {"target", -3}}).target ==
        RequestId::from_int(-3));
  CHECK(require_ok<CancelRequest>({{"op", "cancel"}, {"target", std::string(128, 'x')}}).target ==
        RequestId::from_string(std::string(128, 'x')));
  require_bad({{"op", "cancel"}}, "target: required; the id of a call in flight");
  require_bad({{"op", "cancel"}, {"target", nullptr}}, "target: required");
  const std::string rule = "target: string of at most 128 bytes (UTF-8) or integer";
  require_bad({{"op", "cancel"}, {"target", std::string(129, 'x')}}, rule);
  require_bad({{"op", "cancel"}, {"target", "\xff"}}, rule);
  require_bad({{"op", "cancel"}, {"target", 1.5}}, rule);
  require_bad({{"op", "cancel"}, {"target", true}}, rule);
  require_bad({{"op", "cancel"}, {"target", json::array({1})}}, rule);
  require_bad({{"op", "cancel"}, {"target", {{"id", 1}}}}, rule);
  // The cancel's own id is read as always, and echoed in its error reply.
  auto d = decode_json({{"op", "cancel"}, {"id", 9}});
  CHECK(d.id == RequestId::from_int(9));
  REQUIRE_FALSE(d.body.ok());
}

TEST_CASE("a cancel target given twice is rejected") {
  // {"op": "cancel", "target": 1, "target": 2}
  auto d = decode_request(from_hex("83 a2 6f 70 a6 63 61 6e 63 65 6c a6 74 61 72 67 65 74 01"
                                   " a6 74 61 72 67 65 74 02"));
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().message == "target: given more than once");
}

TEST_CASE("bodies over max_request_bytes are too_large before parsing") {
  DecodeLimits limits;
  limits.max_request_bytes = 16;
  auto d = decode_json(call({}), limits);
  REQUIRE_FALSE(d.body.ok());
  CHECK(d.body.error().code == ErrorCode::kTooLarge);
  CHECK(d.body.error().message.find("max_request_bytes") != std::string::npos);
  // Not even msgpack: still too_large, because size is checked first.
  CHECK(decode_request(std::string(17, '\xc1'), limits).body.error().code == ErrorCode::kTooLarge);
}

TEST_CASE("defaults are not applied by the decoder") {
  auto c = require_ok<CallRequest>(call({}));
  CHECK_FALSE(c.max_tokens.has_value());
  CHECK_FALSE(c.temperature.has_value());
  CHECK_FALSE(c.timeout_ms.has_value());
  CHECK_FALSE(require_ok<HistoryRequest>({{"op", "history"}, {"ai_name", "a"}}).months.has_value());
  CHECK_FALSE(require_ok<AlertsRequest>({{"op", "alerts"}}).limit.has_value());
}

// ---- section 10

TEST_CASE("set_limit takes a token limit or nil and an agent or the global budget") {
  auto r = require_ok<SetLimitRequest>(
      {{"op", "set_limit"}, {"ai_name", "*"}, {"provider", "anthropic"}, {"limit", 0}});
  CHECK(r.ai_name == "*");
  CHECK(r.limit == 0u);
  auto cleared = require_ok<SetLimitRequest>(
      {{"op", "set_limit"}, {"ai_name", "a1"}, {"provider", "openai"}, {"limit", nullptr}});
  CHECK_FALSE(cleared.limit);
  CHECK_FALSE(cleared.limit_usd);
  require_bad({{"op", "set_limit"}, {"ai_name", "a1"}, {"provider", "openai"}, {"limit", -1}},
              "limit: ");
  require_bad({{"op", "set_limit"}, {"ai_name", "a1"}, {"provider", "openai"}, {"limit", "5"}},
              "limit: ");
  require_bad({{"op", "set_limit"}, {"ai_name", "a1"}, {"limit", 5}}, "provider: required");
  require_bad({{"op", "set_limit"}, {"provider", "openai"}, {"limit", 5}}, "ai_name: required");
  require_bad({{"op", "set_limit"}, {"ai_name", "a1"}, {"provider", "openai"}, {"limit_usd", -2.5}},
              "limit_usd: ");
}

TEST_CASE("daily takes 1 to 400 days and forecast an agent or the global budgets") {
  CHECK(require_ok<DailyRequest>({{"op", "daily"}, {"days", 400}}).days == 400u);
  CHECK_FALSE(require_ok<DailyRequest>({{"op", "daily"}}).ai_name);
  require_bad({{"op", "daily"}, {"days", 0}}, "days: ");
  require_bad({{"op", "daily"}, {"days", 401}}, "days: ");
  require_bad({{"op", "daily"}, {"ai_name", "*"}}, "ai_name: ");
  CHECK(require_ok<ForecastRequest>({{"op", "forecast"}, {"ai_name", "*"}}).ai_name == "*");
  require_ok<LimitsRequest>({{"op", "limits"}});
}
