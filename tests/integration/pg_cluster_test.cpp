// Several tollgateds on one PostgreSQL database (PROTOCOL.md section 12)
// acting as one: an idempotent repeat sent to another daemon while the
// first call runs waits for it and gets its reply; a repeat whose first
// call's daemon died is answered as after a crash once that daemon's lease
// is settled, and never reaches a provider.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/private_postgres.h"
#include "tests/integration/tollgated_process.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

// The tokens `client`'s daemon reads as reserved for agent "ops" on
// Anthropic in the shared ledger, once they are non-zero (each read is a
// round trip to the daemon); 0 when they stay 0 for 10 s (scaled).
uint64_t reserved_once_held(TestClient& client) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  uint64_t reserved = 0;
  while (reserved == 0 && std::chrono::steady_clock::now() < deadline) {
    reserved = client.request({{"op", "usage"}, {"ai_name", "ops"}})["providers"]["anthropic"]
                   ["reserved"].get<uint64_t>();
  }
  return reserved;
}

Env cluster_env(const PrivatePostgres& pg, const FakeProviderProcess& fake, const char* id) {
  return merge(fake.provider_env(), {{"TOLLGATE_LEDGER", pg.uri()},
                                     {"TOLLGATE_LEASE_SECONDS", "3"},
                                     {"ENABLE_OPENAI_FALLBACK", "false"},
                                     {"ANTHROPIC_RPM", "0"},
                                     {"TOLLGATE_DAEMON_ID", id}});
}

// Two tollgateds on one database, a client on each.
struct TwoDaemons {
  PrivatePostgres pg;
  FakeProviderProcess fake;
  TollgatedProcess first{cluster_env(pg, fake, "gw-1")};
  TollgatedProcess second{cluster_env(pg, fake, "gw-2")};
  zmq::context_t ctx;
  TestClient a{ctx, first.requests()};
  TestClient b{ctx, second.requests()};
};

json idempotent_call(const std::string& key) {
  auto body = call_body("ops", "pay invoice 7");
  body["idempotency_key"] = key;
  return body;
}

}  // namespace

TEST_CASE("a repeat sent to another tollgated while the first call runs waits and gets the same reply replayed") {
  PrivatePostgres pg;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=1500"});
  TollgatedProcess first(cluster_env(pg, fake, "gw-1"));
  TollgatedProcess second(cluster_env(pg, fake, "gw-2"));
  zmq::context_t ctx;
  TestClient a(ctx, first.requests());
  TestClient b(ctx, second.requests());
  a.send(idempotent_call("order-1"));
  // The first call holds its reservation: it is on its way to the provider,
  // which answers after 1.5 s (the fake counts a request only once it answers).
  REQUIRE(reserved_once_held(b) > 0);
  b.send(idempotent_call("order-1"));
  auto original = a.receive(scaled(10s));
  auto repeat = b.receive(scaled(10s));
  REQUIRE(original.has_value());
  REQUIRE(repeat.has_value());
  INFO(original->dump() << "\n" << repeat->dump());
  CHECK((*original)["ok"] == true);
  CHECK((*original)["replayed"] == false);
  CHECK((*repeat)["ok"] == true);
  CHECK((*repeat)["replayed"] == true);
  CHECK((*repeat)["text"] == (*original)["text"]);
  CHECK((*repeat)["usage"] == (*original)["usage"]);
  CHECK(fake.stats()["anthropic"]["requests"] == 1);
  auto usage = b.request({{"op", "usage"}, {"ai_name", "ops"}});
  CHECK(usage["providers"]["anthropic"]["used"] == (*original)["usage"]["total_tokens"]);

  // A first call that fails is not remembered: the waiting repeat is told
  // so, and sending it again runs it.
  fake.set_faults(json::array({"anthropic:status=400:delay_ms=1500:times=1"}));
  a.send(idempotent_call("order-3"));
  REQUIRE(reserved_once_held(b) > 0);
  b.send(idempotent_call("order-3"));
  auto failed = a.receive(scaled(10s));
  auto told = b.receive(scaled(10s));
  REQUIRE(failed.has_value());
  REQUIRE(told.has_value());
  INFO(failed->dump() << "\n" << told->dump());
  CHECK((*failed)["ok"] == false);
  CHECK((*told)["error"]["code"] == "provider_error");
  CHECK_THAT((*told)["error"]["message"].get<std::string>(), Catch::Contains("run it again"));
  auto again = b.request(idempotent_call("order-3"));
  INFO(again.dump());
  CHECK(again["ok"] == true);
  CHECK(again["replayed"] == false);
}

TEST_CASE("a repeat whose first call's tollgated died is answered as cut short once its lease is settled") {
  PrivatePostgres pg;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=30000"});  // the first call hangs
  auto doomed = std::make_unique<TollgatedProcess>(cluster_env(pg, fake, "gw-doomed"));
  TollgatedProcess survivor(cluster_env(pg, fake, "gw-survivor"));
  zmq::context_t ctx;
  TestClient a(ctx, doomed->requests());
  TestClient b(ctx, survivor.requests());
  a.send(idempotent_call("order-2"));
  REQUIRE(reserved_once_held(b) > 0);  // the first call holds its marker and reservation
  b.send(idempotent_call("order-2"));
  // While the first call's daemon lives, the repeat waits.
  CHECK_FALSE(b.receive(500ms).has_value());
  doomed->process().signal(SIGKILL);
  REQUIRE(doomed->process().wait_exit(scaled(5s)).has_value());
  auto repeat = b.receive(scaled(15s));
  REQUIRE(repeat.has_value());
  INFO(repeat->dump());
  CHECK((*repeat)["ok"] == false);
  CHECK((*repeat)["error"]["code"] == "internal");
  CHECK_THAT((*repeat)["error"]["message"].get<std::string>(), Catch::Contains("cut short"));
  // Never run again: it would hang at the provider, not be answered.
  auto usage = b.request({{"op", "usage"}, {"ai_name", "ops"}});
  INFO(usage.dump());
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() > 0);  // charged in full
}

TEST_CASE("an emergency shutdown reached through one tollgated shuts calls off on the others and a raised limit lifts it everywhere") {
  PrivatePostgres pg;
  FakeProviderProcess fake;
  const Env emergency = {{"SHUTDOWN_ON_EMERGENCY", "true"},
                         {"ANTHROPIC_GLOBAL_MONTHLY_LIMIT", "200"},
                         {"ALERT_WARNING_THRESHOLD", "0.2"},
                         {"OPENAI_FALLBACK_THRESHOLD", "0.3"},
                         {"ALERT_EMERGENCY_THRESHOLD", "0.4"}};
  TollgatedProcess first(merge(cluster_env(pg, fake, "gw-1"), emergency));
  TollgatedProcess second(merge(cluster_env(pg, fake, "gw-2"), emergency));
  zmq::context_t ctx;
  TestClient a(ctx, first.requests());
  TestClient b(ctx, second.requests());
  json last = {{"ok", true}};
  for (int i = 0; i < 40 && last["ok"] == true; ++i) {
    last = a.request(call_body("agent-" + std::to_string(i % 3), "hello", 20));
  }
  INFO(last.dump());
  REQUIRE(last["error"]["code"] == "emergency_shutdown");
  // The other daemon refuses too (its budgets are the same rows); until it
  // knows, it may serve a call, never past the limit.
  auto code_at_b = [&](const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(3s);
    json reply;
    while (std::chrono::steady_clock::now() < deadline) {
      reply = b.request(call_body("agent-b", "hello", 20));
      const std::string code = reply["ok"] == true ? "ok" : reply["error"]["code"].get<std::string>();
      if (code == want) return code;  // each try is a call's round trip: no sleep
    }
    return reply.dump();
  };
  CHECK(code_at_b("emergency_shutdown") == "emergency_shutdown");
  // A raised global limit, set through the first daemon, lifts it on both.
  auto raised = a.request({{"op", "set_limit"}, {"ai_name", "*"}, {"provider", "anthropic"},
                           {"limit", 100000}});
  REQUIRE(raised["ok"] == true);
  CHECK(code_at_b("ok") == "ok");
  CHECK(a.request(call_body("agent-a", "hello again", 20))["ok"] == true);
}

TEST_CASE("three tollgateds on one database send a provider no more requests a minute than its one rpm limit") {
  constexpr int kRpm = 4;
  PrivatePostgres pg;
  FakeProviderProcess fake;
  const Env rate = {{"ENABLE_OPENAI_FALLBACK", "true"},
                    {"ANTHROPIC_RPM", std::to_string(kRpm)},
                    {"OPENAI_RPM", "0"}};
  std::vector<std::unique_ptr<TollgatedProcess>> daemons;
  for (const char* id : {"gw-1", "gw-2", "gw-3"}) {
    daemons.push_back(std::make_unique<TollgatedProcess>(merge(cluster_env(pg, fake, id), rate)));
  }
  zmq::context_t ctx;
  std::vector<std::unique_ptr<TestClient>> clients;
  for (const auto& d : daemons) clients.push_back(std::make_unique<TestClient>(ctx, d->requests()));
  // Each daemon alone would let kRpm through (its own window sees only its
  // calls); together they must too.
  constexpr int kCalls = 12;
  for (int i = 0; i < kCalls; ++i) clients[static_cast<size_t>(i % 3)]->send(call_body("ops", "hello", 20));
  int to_anthropic = 0, rate_fallbacks = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto reply = clients[static_cast<size_t>(i % 3)]->receive(scaled(10s));
    REQUIRE(reply.has_value());
    INFO(reply->dump());
    REQUIRE((*reply)["ok"] == true);
    if ((*reply)["provider"] == "anthropic") ++to_anthropic;
    if ((*reply)["reason"] == "fallback_rate_limit") ++rate_fallbacks;
  }
  CHECK(to_anthropic == kRpm);
  CHECK(rate_fallbacks == kCalls - kRpm);
  CHECK(fake.stats()["anthropic"]["requests"] == kRpm);
  CHECK(fake.stats()["openai"]["requests"] == kCalls - kRpm);
  // Every daemon's provider_status shows the cluster's count, not its own.
  for (auto& c : clients) {
    auto status = c->request({{"op", "provider_status"}});
    INFO(status.dump());
    CHECK(status["providers"]["anthropic"]["rate"]["minute_used"] == kRpm);
    CHECK(status["providers"]["anthropic"]["rate"]["day_used"] == kRpm);
  }
}

TEST_CASE("a limit set through one tollgated is a ledger event once on its own PUB and on the other's") {
  TwoDaemons cluster;
  TestClient& a = cluster.a;
  EventCollector at_a(cluster.ctx, cluster.first.events());
  EventCollector at_b(cluster.ctx, cluster.second.events());
  at_a.sync(a);
  at_b.sync(a);  // a reset made through the first daemon, heard on the second's PUB
  auto set = a.request({{"op", "set_limit"}, {"ai_name", "ops"}, {"provider", "anthropic"},
                        {"limit", 12345}});
  REQUIRE(set["ok"] == true);
  // A fence: a later ledger event through the same daemon; once it is seen
  // on a PUB, the limit event before it has been published there too.
  REQUIRE(a.request({{"op", "reset"}, {"ai_name", "zz-fence"}, {"force", true}})["ok"] == true);
  auto count = [](const EventCollector& c, const std::string& kind, const std::string& field,
                  const std::string& who) {
    int n = 0;
    for (const auto& e : c.with_prefix("ledger")) {
      if (e.value("kind", "") == kind && e.value(field, "") == who) ++n;
    }
    return n;
  };
  for (EventCollector* c : {&at_a, &at_b}) {
    REQUIRE(c->wait_until(
        [&](const auto&) { return count(*c, "reset", "ai_name", "zz-fence") >= 1; }, scaled(5s)));
    INFO(nlohmann::json(c->with_prefix("ledger")).dump());
    CHECK(count(*c, "limit", "ai_name", "ops") == 1);
  }
}

TEST_CASE("an answer one tollgated cached is a cache hit on another tollgated of the same database") {
  TwoDaemons cluster;
  TestClient& a = cluster.a;
  TestClient& b = cluster.b;
  auto body = call_body("ops", "the same question on every daemon");
  body["cache"] = true;
  auto original = a.request(body);
  INFO(original.dump());
  REQUIRE(original["ok"] == true);
  CHECK_FALSE(original.contains("cached"));
  auto elsewhere = b.request(body);
  INFO(elsewhere.dump());
  REQUIRE(elsewhere["ok"] == true);
  CHECK(elsewhere["cached"] == true);
  CHECK(elsewhere["text"] == original["text"]);
  auto again = b.request(body);  // from the second daemon's own copy now
  CHECK(again["cached"] == true);
  CHECK(cluster.fake.stats()["anthropic"]["requests"] == 1);
}
