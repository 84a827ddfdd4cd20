// Status and admin ops against a real daemon whose ledger has real usage.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

TEST_CASE("summary usage and history report the calls the ledger charged") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  uint64_t total = 0;
  for (const auto* agent : {"imperium", "guardian", "imperium"}) {
    auto r = client.request(call_body(agent, "hello"));
    REQUIRE(r["ok"] == true);
    total += r["usage"]["total_tokens"].get<uint64_t>();
  }
  auto summary = client.request({{"op", "summary"}});
  INFO(summary.dump());
  CHECK(summary["totals"]["used"] == total);
  CHECK(summary["totals"]["requests"] == 3);
  CHECK(summary["providers"]["anthropic"]["used"] == total);
  CHECK(summary["providers"]["anthropic"]["limit"].is_null());
  REQUIRE(summary["agents"].size() == 2);
  CHECK(summary["agents"][0]["ai_name"] == "guardian");
  CHECK(summary["agents"][1]["ai_name"] == "imperium");

  auto history = client.request({{"op", "history"}, {"ai_name", "imperium"}, {"months", 3}});
  REQUIRE(history["months"].size() == 3);
  CHECK(history["months"][0]["period"] == summary["period"]);
  CHECK(history["months"][0]["providers"]["anthropic"]["requests"] == 2);
  CHECK(history["months"][1]["total_tokens"] == 0);
  CHECK(history["months"][1]["providers"]["openai"]["used"] == 0);

  auto rec = client.request({{"op", "recommend"}, {"ai_name", "imperium"}});
  CHECK(rec["provider"] == "anthropic");
  CHECK(rec["reason"] == "primary");
  CHECK(rec["available"] == true);
}

TEST_CASE("reset clears an agent's usage re-arms its alerts and publishes a ledger event") {
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_MONTHLY_LIMIT", "200"},
                                                 {"ANTHROPIC_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  for (int i = 0; i < 15; ++i) client.request(call_body("imperium", "hello", 10));
  auto before = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  const auto used = before["providers"]["anthropic"]["used"].get<uint64_t>();
  REQUIRE(used > 0);
  auto reset = client.request({{"op", "reset"}, {"ai_name", "imperium"}, {"provider", "anthropic"}});
  INFO(reset.dump());
  CHECK(reset["cleared"]["anthropic"] == used);
  auto after = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(after["providers"]["anthropic"]["used"] == 0);
  CHECK(after["level"] == "normal");
  REQUIRE(events.wait_until([](const std::vector<std::pair<std::string, json>>& evs) {
    for (const auto& [t, b] : evs) if (t == "ledger" && b["kind"] == "reset") return true;
    return false;
  }, 5s));
  // Alerts fire again after the reset.
  const auto warnings_before = events.with_prefix("alert.warning").size();
  CHECK(warnings_before == 1);
  for (int i = 0; i < 15; ++i) client.request(call_body("imperium", "hello", 10));
  REQUIRE(events.wait_until([&](const std::vector<std::pair<std::string, json>>&) {
    return events.with_prefix("alert.warning").size() > warnings_before;
  }, 5s));
  auto bad = client.request({{"op", "reset"}, {"ai_name", "imperium"}, {"provider", "mistral"}});
  CHECK(bad["error"]["code"] == "bad_request");
}

TEST_CASE("when every global budget is exhausted calls get emergency_shutdown and status ops still answer") {
  FakeProviderProcess fake;
  // Exhausted means empty: here, less than half of the limit left (the
  // calls are too coarse to leave under 1% of 150); the alert levels must
  // come before it.
  TollgatedProcess d(merge(fake.provider_env(), {{"ANTHROPIC_GLOBAL_MONTHLY_LIMIT", "150"},
                                                 {"OPENAI_GLOBAL_MONTHLY_LIMIT", "150"},
                                                 {"ALERT_WARNING_THRESHOLD", "0.2"},
                                                 {"OPENAI_FALLBACK_THRESHOLD", "0.3"},
                                                 {"ALERT_EMERGENCY_THRESHOLD", "0.4"},
                                                 {"TOLLGATE_EXHAUSTED_FRACTION", "0.5"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  json last;
  for (int i = 0; i < 30; ++i) {
    last = client.request(call_body("agent-" + std::to_string(i % 3), "hello", 40));
    if (last["ok"] == false && last["error"]["code"] == "emergency_shutdown") break;
  }
  INFO(last.dump());
  CHECK(last["error"]["code"] == "emergency_shutdown");
  auto status = client.request({{"op", "emergency_status"}});
  CHECK(status["shutdown"] == true);
  CHECK(status["level"] == "shutdown");
  CHECK(status["providers"]["anthropic"]["used"].get<uint64_t>() <= 150);
  CHECK(status["providers"]["openai"]["used"].get<uint64_t>() <= 150);
  auto alerts = client.request({{"op", "alerts"}, {"ai_name", "*"}});
  CHECK(alerts["alerts"].size() >= 2);
}

TEST_CASE("restricted agents get unknown_agent when not configured") {
  TempDir dir;
  auto toml = dir.path() + "/tollgate.toml";
  {
    std::FILE* f = std::fopen(toml.c_str(), "w");
    REQUIRE(f);
    std::fputs("restrict_agents = true\n[agents.imperium]\nanthropic = 1000\n", f);
    std::fclose(f);
  }
  TollgatedProcess d({}, {"--config", toml});
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto r = client.request({{"op", "usage"}, {"ai_name", "stranger"}});
  CHECK(r["error"]["code"] == "unknown_agent");
  auto ok = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(ok["providers"]["anthropic"]["limit"] == 1000);
}

TEST_CASE("a restart charges reservations left by a killed daemon and publishes recovered") {
  TempDir data;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=20000"});
  Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()}});
  {
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient client(ctx, d.requests());
    client.send(call_body("imperium", "this call will be cut short", 100));
    // The reservation is durable before the HTTP request leaves: wait for it.
    TestClient probe(ctx, d.requests());
    json u;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
      u = probe.request({{"op", "usage"}, {"ai_name", "imperium"}});
    } while (u["providers"]["anthropic"]["reserved"] == 0 && std::chrono::steady_clock::now() < deadline);
    REQUIRE(u["providers"]["anthropic"]["reserved"].get<uint64_t>() > 0);
    d.process().signal(SIGKILL);
    d.process().wait_exit(10s);
  }
  TollgatedProcess again(env);
  zmq::context_t ctx;
  TestClient client(ctx, again.requests());
  auto u = client.request({{"op", "usage"}, {"ai_name", "imperium"}});
  CHECK(u["providers"]["anthropic"]["reserved"] == 0);
  CHECK(u["providers"]["anthropic"]["used"].get<uint64_t>() > 100);
  CHECK(again.process().output().find("recovered") != std::string::npos);
}

TEST_CASE("a reset of an agent with no usage is refused naming close matches unless forced") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  REQUIRE(client.request(call_body("imperium", "hello", 10))["ok"] == true);
  auto typo = client.request({{"op", "reset"}, {"ai_name", "imperum"}});
  INFO(typo.dump());
  CHECK(typo["ok"] == false);
  CHECK(typo["error"]["code"] == "unknown_agent");
  CHECK(typo["error"]["message"].get<std::string>().find("did you mean 'imperium'") !=
        std::string::npos);
  // Nothing was created: no phantom row in summary.
  auto summary = client.request({{"op", "summary"}});
  for (const auto& a : summary["agents"]) CHECK(a["ai_name"] != "imperum");
  auto forced = client.request({{"op", "reset"}, {"ai_name", "imperum"}, {"force", true}});
  CHECK(forced["ok"] == true);
  // An agent with usage needs no force.
  CHECK(client.request({{"op", "reset"}, {"ai_name", "imperium"}})["ok"] == true);
  auto bad_force = client.request({{"op", "reset"}, {"ai_name", "imperium"}, {"force", "yes"}});
  CHECK(bad_force["error"]["code"] == "bad_request");
}
