// Operator ops of PROTOCOL.md section 10 against a real tollgated: limits
// changed live with set_limit (durable, audited, applied at once, also
// under a burst of calls), daily usage, forecasts and alert.forecast, and
// their HTTP endpoints.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

json set_limit(const std::string& agent, const json& limit, const std::string& provider = "anthropic") {
  return {{"op", "set_limit"}, {"ai_name", agent}, {"provider", provider}, {"limit", limit}};
}

json usage_of(TestClient& client, const std::string& agent) {
  auto u = client.request({{"op", "usage"}, {"ai_name", agent}});
  REQUIRE(u["ok"] == true);
  return u["providers"]["anthropic"];
}

bool has_limit_event(const std::vector<json>& events, const json& limit) {
  return std::any_of(events.begin(), events.end(), [&](const json& e) {
    return e["kind"] == "limit" && e["limit"] == limit;
  });
}

}  // namespace

TEST_CASE("set_limit changes a budget at once and durably and the ledger keeps who changed it") {
  TempDir data;
  FakeProviderProcess fake;
  const Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()},
                                             {"ANTHROPIC_MONTHLY_LIMIT", "100000"}});
  {
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    EventCollector events(ctx, d.events());
    events.sync(client);
    REQUIRE(client.request(call_body("imperium", "hello", 20))["ok"] == true);
    auto reply = client.request(set_limit("imperium", 150));
    INFO(reply.dump());
    REQUIRE(reply["ok"] == true);
    CHECK(reply["ai_name"] == "imperium");
    CHECK(reply["providers"]["anthropic"]["limit"] == 150);
    // A call that no longer fits anthropic goes to the fallback.
    auto call = client.request(call_body("imperium", "this one is too large now", 200));
    INFO(call.dump());
    REQUIRE(call["ok"] == true);
    CHECK(call["provider"] == "openai");
    REQUIRE(events.wait_until(
        [&](const auto&) { return has_limit_event(events.with_prefix("ledger"), 150); },
        scaled(10s)));
    auto limits = client.request({{"op", "limits"}});
    REQUIRE(limits["limits"].size() == 1);
    CHECK(limits["limits"][0]["ai_name"] == "imperium");
    CHECK(limits["limits"][0]["limit"] == 150);
    CHECK(limits["limits"][0]["set_by"] == "local");
    CHECK(limits["limits"][0]["set_at_ms"].get<int64_t>() > 0);
  }
  {
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    CHECK(usage_of(client, "imperium")["limit"] == 150);
    auto cleared = client.request(set_limit("imperium", nullptr));
    REQUIRE(cleared["ok"] == true);
    CHECK(cleared["providers"]["anthropic"]["limit"] == 100000);
    CHECK(client.request({{"op", "limits"}})["limits"].empty());
    auto log = client.request({{"op", "ledger_events"}})["events"];
    REQUIRE(log.size() >= 2);
    CHECK(log[0]["kind"] == "limit");
    CHECK(log[0]["limit"].is_null());
    CHECK(log[0]["previous_limit"] == 150);
    CHECK(log[0]["set_by"] == "local");
  }
}

TEST_CASE("set_limit refuses an unknown provider and a malformed limit naming the field") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto unknown = client.request(set_limit("imperium", 10, "gemini"));
  CHECK(unknown["error"]["code"] == "bad_request");
  CHECK(unknown["error"]["message"].get<std::string>().find("gemini") != std::string::npos);
  auto negative = client.request(set_limit("imperium", -5));
  CHECK(negative["error"]["code"] == "bad_request");
  CHECK(negative["error"]["message"].get<std::string>().find("limit") != std::string::npos);
  auto global = client.request(set_limit("*", 1000000));
  INFO(global.dump());
  REQUIRE(global["ok"] == true);
  CHECK(global["ai_name"] == "*");
  CHECK(global["providers"]["anthropic"]["limit"] == 1000000);
}

// Calls admitted after the change fit the new limit: what anthropic has
// charged in the end is at most the larger of the new limit and what was
// used or held at the moment the change was applied.
TEST_CASE("set_limit under 200 concurrent calls never lets usage pass the lower limit for calls admitted after it") {
  FakeProviderProcess fake({"--tokenizer", "chars"});
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "200000"},
                                                 {"OPENAI_MONTHLY_LIMIT", "1000000"},
                                                 {"ANTHROPIC_RPM", "0"},
                                                 {"OPENAI_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient control(ctx, d.requests());
  std::atomic<int> answered{0};
  std::atomic<int> unanswered{0};
  std::vector<std::jthread> clients;
  for (int c = 0; c < 20; ++c) {
    clients.emplace_back([&, c] {
      TestClient client(ctx, d.requests());
      for (int i = 0; i < 10; ++i) {
        auto r = client.try_request(
            call_body("imperium", "call " + std::to_string(c * 100 + i) + std::string(300, 'x'), 100),
            scaled(60s));
        r ? ++answered : ++unanswered;
      }
    });
  }
  // Lower the limit early: 200 calls of about 330 tokens need ~66,000,
  // more than the new 30,000, so calls admitted after it must fall back.
  const auto give_up = std::chrono::steady_clock::now() + scaled(60s);
  while (answered + unanswered < 10 && std::chrono::steady_clock::now() < give_up) {
    control.request({{"op", "ping"}});
  }
  auto changed = control.request(set_limit("imperium", 30000));
  INFO(changed.dump());
  REQUIRE(changed["ok"] == true);
  const auto& at_change = changed["providers"]["anthropic"];
  const uint64_t held = at_change["used"].get<uint64_t>() + at_change["reserved"].get<uint64_t>();
  clients.clear();  // joins
  CHECK(unanswered == 0);
  CHECK(answered == 200);
  const auto after = usage_of(control, "imperium");
  INFO(after.dump());
  CHECK(after["reserved"] == 0);
  CHECK(held < 30000);  // the change came before the budget was spent
  CHECK(after["used"].get<uint64_t>() <= std::max<uint64_t>(30000, held));
  CHECK(after["limit"] == 30000);
  // The rest went to the fallback.
  auto u = control.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(u["providers"]["openai"]["used"].get<uint64_t>() > 0);
}

TEST_CASE("daily and forecast report what calls charged and alert.forecast fires when the projection reaches the limit") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_HTTP", "127.0.0.1:0"},
                                                 {"TOLLGATE_FORECAST_CHECK_SECONDS", "1"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  for (int i = 0; i < 3; ++i) REQUIRE(client.request(call_body("imperium", "hello", 20))["ok"] == true);
  REQUIRE(client.request(call_body("legion", "hello", 20))["ok"] == true);
  const auto usage = usage_of(client, "imperium");

  auto daily = client.request({{"op", "daily"}, {"ai_name", "imperium"}, {"days", 3}});
  INFO(daily.dump());
  REQUIRE(daily["days"].size() == 3);
  const auto& today = daily["days"][0]["providers"]["anthropic"];
  CHECK(today["used"] == usage["used"]);
  CHECK(today["requests"] == 3);
  CHECK(daily["days"][1]["providers"]["anthropic"]["used"] == 0);
  auto all = client.request({{"op", "daily"}, {"days", 1}});
  CHECK(all["ai_name"].is_null());
  CHECK(all["days"][0]["providers"]["anthropic"]["requests"] == 4);

  auto forecast = client.request({{"op", "forecast"}, {"ai_name", "imperium"}});
  INFO(forecast.dump());
  const auto& f = forecast["agents"]["imperium"]["anthropic"];
  CHECK(f["used"] == usage["used"]);
  CHECK(f["daily_rate"].get<double>() > 0);
  CHECK(f["projected_period_end_usage"].get<uint64_t>() >= usage["used"].get<uint64_t>());
  CHECK(forecast["window_days"] == 7);

  // HTTP mirrors the ops.
  httplib::Client http("http://" + d.http());
  auto res = http.Get("/api/token-usage/daily/imperium?days=3");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["days"] == daily["days"]);

  // A limit one token above what is used: the projection reaches it first.
  const uint64_t used = usage["used"].get<uint64_t>();
  REQUIRE(client.request(set_limit("imperium", used + 1))["ok"] == true);
  REQUIRE(events.wait_until(
      [&](const auto&) { return !events.with_prefix("alert.forecast").empty(); }, scaled(10s)));
  const auto alert = events.with_prefix("alert.forecast").front();
  CHECK(alert["ai_name"] == "imperium");
  CHECK(alert["level"] == "forecast");
  CHECK(alert["message"].get<std::string>().find("projected") != std::string::npos);
  auto kept = client.request({{"op", "alerts"}, {"ai_name", "imperium"}});
  CHECK(std::any_of(kept["alerts"].begin(), kept["alerts"].end(),
                    [](const json& a) { return a["level"] == "forecast"; }));
}

TEST_CASE("the HTTP limits endpoint needs the admin token and records it by digest") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_HTTP", "127.0.0.1:0"},
                                                 {"TOLLGATE_HTTP_ADMIN_TOKEN", "op-token-77"}}));
  httplib::Client http("http://" + d.http());
  const std::string body = R"({"provider":"anthropic","limit":4321})";
  auto refused = http.Put("/api/token-usage/limits/imperium", body, "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 401);
  auto put = http.Put("/api/token-usage/limits/imperium",
                      httplib::Headers{{"Authorization", "Bearer op-token-77"}}, body,
                      "application/json");
  REQUIRE(put);
  INFO(put->body);
  CHECK(put->status == 200);
  CHECK(json::parse(put->body)["providers"]["anthropic"]["limit"] == 4321);
  auto limits = http.Get("/api/token-usage/limits");
  REQUIRE(limits);
  const auto entry = json::parse(limits->body)["limits"][0];
  const std::string who = entry["set_by"].get<std::string>();
  CHECK(who.rfind("http:", 0) == 0);
  CHECK(who.find("op-token-77") == std::string::npos);
}

TEST_CASE("with TOLLGATE_SELECTION cheapest a call goes to the provider whose model costs least and recommend says why") {
  FakeProviderProcess fake;
  // The default prices per million tokens: claude-sonnet-4-5 $3 in and $15
  // out, the default OpenAI model $2 and $8.
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_SELECTION", "cheapest"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto call = client.request(call_body("imperium", "hello", 20));
  INFO(call.dump());
  REQUIRE(call["ok"] == true);
  CHECK(call["provider"] == "openai");
  CHECK(call["reason"] == "primary");
  auto rec = client.request({{"op", "recommend"}, {"ai_name", "imperium"}});
  INFO(rec.dump());
  CHECK(rec["provider"] == "openai");
  CHECK(rec["selection"] == "cheapest");
  CHECK(rec["expected_cost_usd"].get<double>() > 0);
  auto status = client.request({{"op", "provider_status"}, {"ai_name", "imperium"}});
  CHECK(status["selection"] == "cheapest");
  const auto& costs = status["agents"][0]["providers"];
  CHECK(costs["openai"]["expected_cost_usd"].get<double>() <
        costs["anthropic"]["expected_cost_usd"].get<double>());
  // The ordinary chain order is unchanged without it.
  FakeProviderProcess fake2;
  TollgatedProcess chain(fake2.provider_env());
  TestClient other(ctx, chain.requests());
  CHECK(other.request(call_body("imperium", "hello", 20))["provider"] == "anthropic");
  CHECK_FALSE(other.request({{"op", "recommend"}, {"ai_name", "imperium"}}).contains("selection"));
}

TEST_CASE("a call that does not fit its dollar budget falls back and set_limit sets dollar limits") {
  FakeProviderProcess fake;
  // claude-sonnet-4-5 costs $15 per million output tokens: 200 max_tokens
  // alone may cost $0.003, over these budgets.
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT_USD", "0.001"},
                                                 {"OPENAI_MONTHLY_LIMIT_USD", "0.0001"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto refused = client.request(call_body("imperium", "hello", 200));
  INFO(refused.dump());
  CHECK(refused["error"]["code"] == "budget_exhausted");
  CHECK(refused["error"]["message"].get<std::string>().find("in dollars") != std::string::npos);
  auto usage = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(usage["providers"]["anthropic"]["limit_usd"].get<double>() == Approx(0.001));
  CHECK(usage["providers"]["anthropic"]["used"] == 0);
  // Raised live on openai: the call falls back to it.
  auto raised = client.request({{"op", "set_limit"}, {"ai_name", "imperium"},
                                {"provider", "openai"}, {"limit", nullptr}, {"limit_usd", 5.0}});
  INFO(raised.dump());
  REQUIRE(raised["ok"] == true);
  CHECK(raised["providers"]["openai"]["limit_usd"].get<double>() == Approx(5.0));
  auto call = client.request(call_body("imperium", "hello", 200));
  INFO(call.dump());
  REQUIRE(call["ok"] == true);
  CHECK(call["provider"] == "openai");
  CHECK(call["attempts"][0]["provider"] == "anthropic");
  CHECK(call["attempts"][0]["outcome"] == "skipped");
  auto limits = client.request({{"op", "limits"}});
  CHECK(limits["limits"][0]["limit_usd"].get<double>() == Approx(5.0));
  CHECK(limits["limits"][0]["limit"].is_null());
}
