// docs/protocol.md's table of the request fields of every op (between
// `<!-- request-fields -->` and `<!-- /request-fields -->`) against the
// daemon's own encoder: the client libraries are tested to send only the
// table's fields, so the table must be exactly what the daemon reads.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "protocol/codec.h"
#include "tests/unit/protocol_test_util.h"
#include "tests/unit/request_fields_table.h"

using namespace tollgate::protocol;
using tollgate::protocol::testing::json_of;

namespace {

using FieldTable = std::map<std::string, std::set<std::string>>;

FieldTable documented_fields() { return tollgate::testing::request_fields_table(TOLLGATE_PROTOCOL_DOC); }

CallRequest every_call_field() {
  CallRequest c;
  c.ai_name = "imperium";
  c.prompt = "p";
  c.messages = {{"user", "hello"}};
  c.system = "s";
  c.max_tokens = 10;
  c.temperature = 0.5;
  c.preferred_provider = "openai";
  c.model = "m";
  c.idempotency_key = "k";
  c.timeout_ms = 1000;
  c.tools = {ToolSpec{"lookup", "d", JsonValue::object(), {}}};
  c.tool_choice = ToolChoice{ToolChoice::Type::kTool, "lookup"};
  c.stop_sequences = {"STOP"};
  c.top_p = 0.9;
  c.stream = true;
  c.cache = true;
  return c;
}

// One request of every op with every field it has set, in RequestBody order.
std::vector<RequestBody> every_field_of_every_op() {
  return {
      PingRequest{},
      every_call_field(),
      UsageRequest{"a"},
      SummaryRequest{},
      ProviderStatusRequest{"a"},
      RecommendRequest{"a"},
      EmergencyStatusRequest{},
      AlertsRequest{1, 0, "a"},
      HistoryRequest{"a", 1},
      ResetRequest{"a", "anthropic", true},
      LedgerEventsRequest{1, 0},
      CancelRequest{RequestId::from_int(1)},
      SetLimitRequest{"a", "anthropic", 1, 1.0},
      LimitsRequest{},
      ForecastRequest{"a"},
      DailyRequest{"a", 1},
  };
}

}  // namespace

TEST_CASE("the request fields table of docs/protocol.md lists every op the daemon knows") {
  const FieldTable table = documented_fields();
  const auto bodies = every_field_of_every_op();
  REQUIRE(bodies.size() == std::variant_size_v<RequestBody>);
  std::set<std::string> ops;
  for (const auto& body : bodies) ops.insert(std::string(op_name(body)));
  std::set<std::string> documented;
  for (const auto& [op, fields] : table) documented.insert(op);
  CHECK(documented == ops);
}

TEST_CASE("each op's documented request fields are exactly the ones the daemon encodes") {
  const FieldTable table = documented_fields();
  for (const auto& body : every_field_of_every_op()) {
    const std::string op(op_name(body));
    INFO(op);
    auto encoded = json_of(encode_request(RequestId::from_int(7), body));
    std::set<std::string> keys;
    for (const auto& [key, value] : encoded.items()) keys.insert(key);
    const auto row = table.find(op);
    REQUIRE(row != table.end());
    std::set<std::string> expected = row->second;
    expected.insert({"v", "id", "op"});
    CHECK(keys == expected);
  }
}
