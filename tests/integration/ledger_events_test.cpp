// The `ledger_events` op (PROTOCOL.md section 4) and the traces a reset
// leaves (section 3, `reset` and `history`), against a real tollgated: the
// `recovered` event of a restart after SIGKILL, which is published before
// anyone can subscribe, is read back with the op; a reset is listed exactly
// as it was published; history keeps the cleared tokens.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json history_of(TestClient& client, const std::string& agent) {
  auto h = client.request({{"op", "history"}, {"ai_name", agent}, {"months", 2}});
  REQUIRE(h["ok"] == true);
  REQUIRE(h["months"].size() == 2);
  return h;
}

json provider_month(uint64_t used, uint64_t requests, uint64_t cleared) {
  return {{"used", used}, {"requests", requests}, {"cleared", cleared}};
}

}  // namespace

TEST_CASE("after a crash the ledger_events op returns the recovered event with the tokens charged") {
  TempDir data;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=20000"});
  const Env env = merge(fake.provider_env(), {{"TOLLGATE_DATA_DIR", data.path()}});
  const json usage_op = {{"op", "usage"}, {"ai_name", "imperium"}};
  uint64_t reserved = 0;
  {
    TollgatedProcess d(env);
    zmq::context_t ctx;
    TestClient caller(ctx, d.requests());
    caller.send(call_body("imperium", "this call is cut short by a crash", 100));
    // The reservation is durable before the provider request leaves: wait
    // for it, then kill the daemon while the provider holds the call.
    TestClient probe(ctx, d.requests());
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    do {
      reserved = probe.request(usage_op)["providers"]["anthropic"]["reserved"].get<uint64_t>();
    } while (reserved == 0 && std::chrono::steady_clock::now() < deadline);
    REQUIRE(reserved > 0);
    CHECK(probe.request({{"op", "ledger_events"}})["events"].empty());
    d.process().signal(SIGKILL);
    REQUIRE(d.process().wait_exit(scaled(10s)) == 128 + SIGKILL);
  }

  const int64_t restarted_at = now_ms();
  json kept;
  {
    TollgatedProcess again(env);
    zmq::context_t ctx;
    TestClient client(ctx, again.requests());
    kept = client.request({{"op", "ledger_events"}});
    INFO(kept.dump());
    REQUIRE(kept["ok"] == true);
    REQUIRE(kept["events"].size() == 1);
    const json& recovered = kept["events"][0];
    const auto period = client.request({{"op", "summary"}})["period"].get<std::string>();
    CHECK(recovered["kind"] == "recovered");
    CHECK(recovered["total_tokens"] == reserved);
    CHECK(recovered["entries"] == json::array({json{{"ai_name", "imperium"},
                                                    {"provider", "anthropic"},
                                                    {"period", period},
                                                    {"tokens", reserved}}}));
    CHECK(recovered["at_ms"].get<int64_t>() >= restarted_at);
    CHECK_FALSE(recovered.contains("seq"));
    // What the event says is what recovery charged.
    auto usage = client.request(usage_op);
    CHECK(usage["providers"]["anthropic"]["used"] == reserved);
    CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  }

  // A clean restart recovers nothing more and still lists the event.
  TollgatedProcess third(env);
  zmq::context_t ctx;
  TestClient client(ctx, third.requests());
  CHECK(client.request({{"op", "ledger_events"}})["events"] == kept["events"]);
}

TEST_CASE("after a reset history shows the cleared tokens and ledger_events lists the reset as published") {
  FakeProviderProcess fake;
  TollgatedProcess d(fake.provider_env());
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);  // resets a throwaway agent until its event arrives

  uint64_t charged = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = client.request(call_body("imperium", "hello " + std::to_string(i)));
    REQUIRE(r["ok"] == true);
    REQUIRE(r["provider"] == "anthropic");
    charged += r["usage"]["total_tokens"].get<uint64_t>();
  }
  const json before = history_of(client, "imperium");
  CHECK(before["months"][0]["providers"]["anthropic"] == provider_month(charged, 3, 0));

  auto reset = client.request({{"op", "reset"}, {"ai_name", "imperium"}});
  INFO(reset.dump());
  REQUIRE(reset["ok"] == true);
  CHECK(reset["cleared"] == json{{"anthropic", charged}, {"openai", 0}});

  // Used is 0, requests and cost stay, and the cleared tokens account for
  // the difference.
  const json after = history_of(client, "imperium");
  INFO(after.dump());
  CHECK(after["months"][0]["providers"]["anthropic"] == provider_month(0, 3, charged));
  CHECK(after["months"][0]["providers"]["openai"] == provider_month(0, 0, 0));
  CHECK(after["months"][0]["total_tokens"] == 0);
  CHECK(after["months"][0]["cost_usd"] == before["months"][0]["cost_usd"]);
  CHECK(after["months"][1] == before["months"][1]);

  // Usage after the reset counts from 0; the cleared tokens stay.
  auto next = client.request(call_body("imperium", "after the reset"));
  REQUIRE(next["ok"] == true);
  const uint64_t since_reset = next["usage"]["total_tokens"].get<uint64_t>();
  CHECK(history_of(client, "imperium")["months"][0]["providers"]["anthropic"] ==
        provider_month(since_reset, 4, charged));

  // The reset as the PUB socket published it and as the ledger kept it.
  auto imperium_reset = [](const auto& evs) {
    for (const auto& [topic, body] : evs) {
      if (topic == "ledger" && body.value("ai_name", "") == "imperium") return true;
    }
    return false;
  };
  REQUIRE(events.wait_until(imperium_reset, scaled(10s)));
  json published;
  for (const auto& [topic, body] : events.events()) {
    if (topic == "ledger" && body.value("ai_name", "") == "imperium") published = body;
  }
  published.erase("seq");

  auto kept = client.request({{"op", "ledger_events"}});
  INFO(kept.dump());
  REQUIRE(kept["ok"] == true);
  REQUIRE(kept["events"].size() >= 2);
  CHECK(kept["events"][0] == published);
  CHECK(kept["events"][0]["kind"] == "reset");
  CHECK(kept["events"][0]["cleared"] == reset["cleared"]);
  CHECK(kept["events"][0]["period"] == reset["period"]);
  CHECK(kept["events"][1]["ai_name"] == "zz-sync");  // older: the sync resets

  const int64_t at = published["at_ms"].get<int64_t>();
  auto newest = client.request({{"op", "ledger_events"}, {"limit", 1}});
  REQUIRE(newest["events"].size() == 1);
  CHECK(newest["events"][0] == published);
  auto since = client.request({{"op", "ledger_events"}, {"since_ms", at}});
  REQUIRE_FALSE(since["events"].empty());
  CHECK(since["events"][0] == published);
  for (const auto& e : since["events"]) CHECK(e["at_ms"].get<int64_t>() >= at);
  CHECK(client.request({{"op", "ledger_events"}, {"since_ms", at + 1}})["events"].empty());
}
