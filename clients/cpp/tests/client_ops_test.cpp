// tollgate::Client's status and operator ops, and the daemon's errors as
// Results, against the real tollgated and fake-provider; and the example
// producer (examples/cpp_producer.cpp) run against them.
#include <catch2/catch.hpp>

#include "clients/cpp/tests/client_fixture.h"

using namespace tollgate;
using namespace tollgate::client_test;

namespace {

// The value (by value: the Result is a temporary), or the test fails
// showing the error.
template <class T>
T ok(Result<T> r) {
  INFO((r.ok() ? std::string() : r.error().code + ": " + r.error().message));
  REQUIRE(r.ok());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("the status ops answer through the C++ client with typed usage and recommend") {
  Stack s;
  Client client = s.client();
  const CallResult& call = ok(client.call(prompt_call("count me")));

  const PingInfo& ping = ok(client.ping());
  CHECK(ping.pid == s.daemon.process().pid());
  CHECK_FALSE(ping.version.empty());

  const UsageReport& usage = ok(client.usage(kAgent));
  CHECK(usage.ai_name == kAgent);
  CHECK(usage.level == "normal");
  const BudgetUsage& anthropic = usage.providers.at("anthropic");
  CHECK(anthropic.used == call.usage.total_tokens);
  CHECK(anthropic.requests == 1);
  REQUIRE(anthropic.limit.has_value());
  CHECK(anthropic.remaining == *anthropic.limit - anthropic.used);

  const Recommendation& rec = ok(client.recommend(kAgent));
  CHECK(rec.provider == std::optional<std::string>("anthropic"));
  CHECK(rec.available);
  CHECK(rec.reason == "primary");

  const Value& summary = ok(client.summary());
  CHECK(summary["totals"]["used"].as_uint() == call.usage.total_tokens);
  const Value& status = ok(client.provider_status(std::string(kAgent)));
  REQUIRE(status["agents"].size() == 1);
  CHECK(status["agents"].at(0)["ai_name"].as_string() == kAgent);
  CHECK(ok(client.provider_status())["providers"]["anthropic"]["circuit"].as_string() == "closed");
  CHECK(ok(client.emergency_status())["level"].as_string() == "normal");
  CHECK(ok(client.alerts(AlertsQuery{10, 0, std::string(kAgent)}))["alerts"].is_array());
  CHECK(ok(client.history(kAgent, 2))["months"].size() == 2);
  CHECK(ok(client.forecast(std::string(kAgent))).is_map());
  const Value& daily = ok(client.daily(std::string(kAgent), 3));
  INFO(daily.dump());
  CHECK(daily["days"].size() == 3);
  CHECK(daily["days"].at(0)["providers"]["anthropic"]["used"].as_uint() == call.usage.total_tokens);
}

TEST_CASE("the operator ops set a limit and reset an agent through the C++ client") {
  Stack s;
  Client client = s.client();
  const CallResult& call = ok(client.call(prompt_call("count me")));

  const Value& budget = ok(client.set_limit(kAgent, "openai", 5000, 2.5));
  INFO(budget.dump());
  CHECK(budget["providers"]["openai"]["limit"].as_uint() == 5000);
  CHECK(ok(client.usage(kAgent)).providers.at("openai").limit_usd == std::optional<double>(2.5));
  const Value& limits = ok(client.limits());
  INFO(limits.dump());
  REQUIRE(limits["limits"].size() == 1);
  CHECK(limits["limits"].at(0)["provider"].as_string() == "openai");
  ok(client.set_limit(kAgent, "openai", std::nullopt));  // back to the default
  CHECK(ok(client.limits())["limits"].size() == 0);

  const Value& reset = ok(client.reset(kAgent, std::string("anthropic")));
  CHECK(reset["cleared"]["anthropic"].as_uint() == call.usage.total_tokens);
  CHECK(ok(client.usage(kAgent)).providers.at("anthropic").used == 0);
  CHECK(ok(client.reset("nobody-yet", std::nullopt, true))["ai_name"].as_string() == "nobody-yet");
  const Value& events = ok(client.ledger_events(10, 0));
  INFO(events.dump());
  bool saw_reset = false, saw_limit = false;
  for (const Value& e : events["events"].as_array()) {
    saw_reset = saw_reset || e["kind"].as_string() == "reset";
    saw_limit = saw_limit || e["kind"].as_string() == "limit";
  }
  CHECK(saw_reset);
  CHECK(saw_limit);
}

TEST_CASE("the daemon errors come back as Results with their code and request id") {
  Stack s;
  Client client = s.client();

  CallOptions hot = prompt_call("too hot");
  hot.temperature = 5.0;
  auto bad = client.call(hot);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "bad_request");
  CHECK(bad.error().message.find("temperature") != std::string::npos);
  CHECK(bad.error().request_id == client.last_request_id());

  // A tiny budget on both providers: no provider can hold the call.
  ok(client.set_limit(kAgent, "anthropic", 10));
  ok(client.set_limit(kAgent, "openai", 10));
  auto poor = client.call(prompt_call("spend"));
  REQUIRE_FALSE(poor.ok());
  CHECK(poor.error().code == "budget_exhausted");
  CHECK(poor.error().message.find("both_exhausted") != std::string::npos);

  // The daemon's own deadline: the provider answers after 3 s.
  s.fake.set_faults(nlohmann::json::array({"*:delay_ms=3000"}));
  CallOptions slow = prompt_call("slow");
  slow.ai_name = "patient";
  slow.timeout_ms = 300;
  auto late = client.call(slow);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == "timeout");
}

TEST_CASE("a ping to an endpoint nobody serves ends in a client timeout") {
  Options options;
  options.timeout = std::chrono::milliseconds(200);  // expects no reply: not scaled
  Client client("tcp://127.0.0.1:1", options);
  auto r = client.ping();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kClientTimeout);
  CHECK_FALSE(r.error().request_id.empty());

  Client broken("not-an-endpoint", options);
  auto b = broken.ping();
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == kTransport);
}

TEST_CASE("the C++ producer example makes a call and prints the answer") {
  Stack s;
  testing::ChildProcess example(testing::bin_dir() + "/cpp_producer_example",
                                {s.daemon.requests(), "example-agent", "hello from the example"}, {});
  auto status = example.wait_exit(scaled(20s));
  INFO(example.output());
  REQUIRE(status == std::optional<int>(0));
  CHECK(example.output().find("echo: hello from the example") != std::string::npos);
  CHECK(example.output().find("provider anthropic") != std::string::npos);
  Client client = s.client();
  CHECK(ok(client.usage("example-agent")).providers.at("anthropic").requests == 1);
}
