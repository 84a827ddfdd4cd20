// tollgated with its ledger in PostgreSQL (TOLLGATE_LEDGER=postgresql://…,
// PROTOCOL.md section 12): calls served and charged; the database stopped
// -> calls refused at once with ledger_unavailable and the daemon not
// ready; the database back -> calls served again and the ledger equals
// what the replies said, nothing lost or charged twice. The test runs its
// own PostgreSQL (tools/pg-test-server.sh), since it stops it.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/call_harness.h"
#include "tests/integration/load_clients.h"
#include "tests/integration/private_postgres.h"
#include "tests/integration/tollgated_process.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

int readyz(const TollgatedProcess& d) {
  httplib::Client http("http://" + d.http());
  auto res = http.Get("/readyz");
  return res ? res->status : -1;
}

}  // namespace

TEST_CASE("tollgated on PostgreSQL refuses calls with ledger_unavailable while the database is down and loses nothing") {
  PrivatePostgres pg;
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_LEDGER", pg.uri()},
                                                 {"TOLLGATE_DAEMON_ID", "gw-1"},
                                                 {"TOLLGATE_HTTP", "127.0.0.1:0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  uint64_t replied = 0;
  for (int i = 0; i < 5; ++i) {
    auto reply = client.request(call_body("ops", "before the outage " + std::to_string(i)));
    INFO(reply.dump());
    REQUIRE(reply["ok"] == true);
    replied += reply["usage"]["total_tokens"].get<uint64_t>();
  }
  CHECK(readyz(d) == 200);
  // Status questions asked while the database answers: known afterwards.
  const json summary_before = client.request({{"op", "summary"}});
  const json usage_before = client.request({{"op", "usage"}, {"ai_name", "ops"}});
  REQUIRE(summary_before["ok"] == true);
  CHECK_FALSE(summary_before.contains("stale"));
  httplib::Client http("http://" + d.http());
  REQUIRE(http.Get("/api/token-usage/summary"));

  pg.pause();
  const auto asked = std::chrono::steady_clock::now();
  auto refused = client.request(call_body("ops", "during the outage"));
  const auto took = std::chrono::steady_clock::now() - asked;
  INFO(refused.dump());
  CHECK(refused["ok"] == false);
  CHECK(refused["error"]["code"] == "ledger_unavailable");
  CHECK(refused["error"]["retry_after_ms"].get<int64_t>() > 0);
  CHECK(took < scaled(1000ms));
  // Later calls are refused by the degraded ledger without touching it.
  auto again = client.request(call_body("ops", "still down"));
  CHECK(again["error"]["code"] == "ledger_unavailable");
  // Not ready at once: whether the refusal came from a failed write or from
  // a read of the ledger, the ledger is degraded before the call is answered.
  CHECK(readyz(d) == 503);
  // Status ops answer from what is known: the last reply to the same
  // question, marked stale with when it was read and why not again.
  CHECK(client.request({{"op", "ping"}})["ok"] == true);
  const json summary_during = client.request({{"op", "summary"}});
  INFO(summary_during.dump());
  REQUIRE(summary_during["ok"] == true);
  REQUIRE(summary_during.contains("stale"));
  CHECK(summary_during["stale"]["as_of_ms"].get<int64_t>() > 0);
  CHECK(summary_during["stale"]["reason"].get<std::string>().find("PostgreSQL") != std::string::npos);
  CHECK(summary_during["totals"] == summary_before["totals"]);
  const json usage_during = client.request({{"op", "usage"}, {"ai_name", "ops"}});
  CHECK(usage_during["ok"] == true);
  CHECK(usage_during["providers"] == usage_before["providers"]);
  auto http_during = http.Get("/api/token-usage/summary");
  REQUIRE(http_during);
  CHECK(http_during->status == 200);
  CHECK(json::parse(http_during->body).contains("stale"));
  // A question never answered before has nothing known to answer with.
  CHECK(client.request({{"op", "history"}, {"ai_name", "ops"}})["error"]["code"] ==
        "ledger_unavailable");

  pg.resume();
  // Until the ledger's probe (every second) finds the database back, calls
  // are refused at once; each try is a call's round trip.
  json served;
  const auto deadline = std::chrono::steady_clock::now() + scaled(15s);
  while (std::chrono::steady_clock::now() < deadline) {
    served = client.request(call_body("ops", "after the outage"));
    if (served["ok"] == true) break;
    REQUIRE(served["error"]["code"] == "ledger_unavailable");
  }
  INFO(served.dump());
  REQUIRE(served["ok"] == true);
  replied += served["usage"]["total_tokens"].get<uint64_t>();
  CHECK(readyz(d) == 200);
  CHECK_FALSE(client.request({{"op", "summary"}}).contains("stale"));

  auto usage = client.request({{"op", "usage"}, {"ai_name", "ops"}});
  INFO(usage.dump());
  CHECK(usage["providers"]["anthropic"]["used"] == replied);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(tollgate::testing::served(fake.stats(), "anthropic") == replied);
}

TEST_CASE("three tollgateds on one PostgreSQL database never spend over a budget and charge every reply exactly") {
  PrivatePostgres pg;
  FakeProviderProcess fake;
  const Env budget = {{"TOLLGATE_LEDGER", pg.uri()},     {"ANTHROPIC_MONTHLY_LIMIT", "1000"},
                      {"OPENAI_MONTHLY_LIMIT", "1000"},   {"ANTHROPIC_RPM", "0"},
                      {"OPENAI_RPM", "0"}};
  std::vector<std::unique_ptr<TollgatedProcess>> daemons;
  for (const char* id : {"gw-1", "gw-2", "gw-3"}) {
    daemons.push_back(std::make_unique<TollgatedProcess>(
        merge(merge(fake.provider_env(), budget), {{"TOLLGATE_DAEMON_ID", id}})));
  }
  zmq::context_t ctx;
  std::vector<std::unique_ptr<EventCollector>> subscribers;
  for (const auto& d : daemons) {
    TestClient syncer(ctx, d->requests());
    subscribers.push_back(std::make_unique<EventCollector>(ctx, d->events()));
    subscribers.back()->sync(syncer);
  }
  std::mutex mu;
  std::map<std::string, uint64_t> replied;  // ok replies' tokens by provider
  uint64_t refused = 0, other = 0;
  {
    std::vector<std::jthread> clients;
    for (size_t t = 0; t < 6; ++t) {
      clients.emplace_back([&, t] {
        TestClient client(ctx, daemons[t % 3]->requests());
        for (int i = 0; i < 25; ++i) {
          auto reply = client.try_request(
              call_body("team", "call " + std::to_string(t) + "-" + std::to_string(i)));
          std::lock_guard lock(mu);

          if (!reply) {
            ++other;
          } else if ((*reply)["ok"] == true) {
            replied[(*reply)["provider"].get<std::string>()] +=
                (*reply)["usage"]["total_tokens"].get<uint64_t>();
          } else if ((*reply)["error"]["code"] == "budget_exhausted") {
            ++refused;
          } else {
            ++other;
          }
        }
      });
    }
  }
  CHECK(other == 0);
  CHECK(refused > 0);  // the budgets really were tight
  TestClient client(ctx, daemons[2]->requests());
  auto usage = client.request({{"op", "usage"}, {"ai_name", "team"}});
  INFO(usage.dump());
  const auto stats = fake.stats();
  for (const std::string provider : {"anthropic", "openai"}) {
    const auto& u = usage["providers"][provider];
    CHECK(u["used"].get<uint64_t>() <= 1000);
    CHECK(u["used"] == replied[provider]);
    CHECK(u["reserved"] == 0);
    CHECK(tollgate::testing::served(stats, provider) == replied[provider]);
  }
  // Every alert fired anywhere, exactly once on every daemon's PUB.
  auto fired = client.request({{"op", "alerts"}, {"limit", 1000}});
  INFO(fired.dump());
  std::multiset<std::string> expected;
  for (const auto& a : fired["alerts"]) expected.insert("alert." + a["level"].get<std::string>());
  CHECK_FALSE(expected.empty());
  for (auto& sub : subscribers) {
    auto published = [&] {
      std::multiset<std::string> topics;
      for (const auto& [topic, body] : sub->events()) {
        if (topic.rfind("alert.", 0) == 0) topics.insert(topic);
      }
      return topics;
    };
    sub->wait_until([&](const auto&) { return published().size() >= expected.size(); }, scaled(5s));
    CHECK(published() == expected);
  }
}

TEST_CASE("a tollgated killed with calls in flight has them charged in full by another within the lease time") {
  PrivatePostgres pg;
  FakeProviderProcess fake({"--fault", "anthropic:delay_ms=30000"});  // calls hang at the provider
  const Env shared = {{"TOLLGATE_LEDGER", pg.uri()}, {"TOLLGATE_LEASE_SECONDS", "3"},
                      {"ENABLE_OPENAI_FALLBACK", "false"}, {"ANTHROPIC_RPM", "0"}};
  auto doomed = std::make_unique<TollgatedProcess>(
      merge(merge(fake.provider_env(), shared), {{"TOLLGATE_DAEMON_ID", "gw-doomed"}}));
  TollgatedProcess survivor(
      merge(merge(fake.provider_env(), shared), {{"TOLLGATE_DAEMON_ID", "gw-survivor"}}));
  zmq::context_t ctx;
  TestClient hanging(ctx, doomed->requests());
  TestClient client(ctx, survivor.requests());
  auto anthropic = [&] {
    return client.request({{"op", "usage"}, {"ai_name", "ops"}})["providers"]["anthropic"];
  };
  // Waits (on the survivor's view of the shared ledger) until `reserved`
  // satisfies `done`; its last value.
  auto reserved_when = [&](auto done) {
    uint64_t r = 0;
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    while (std::chrono::steady_clock::now() < deadline) {
      r = anthropic()["reserved"].get<uint64_t>();
      if (done(r)) break;  // else read again: each read is a round trip
    }
    return r;
  };
  // One call first: what one reserves (the three bodies are the same size).
  // The provider holds each for 30 s, longer than the test needs: the
  // fake counts a request only once it answers, so the ledger is watched.
  hanging.send(call_body("ops", "in flight 0"));
  const uint64_t one = reserved_when([](uint64_t r) { return r > 0; });
  REQUIRE(one > 0);
  for (int i = 1; i < 3; ++i) hanging.send(call_body("ops", "in flight " + std::to_string(i)));
  const uint64_t held = reserved_when([&](uint64_t r) { return r >= 3 * one; });
  INFO("doomed tollgated output:\n" << doomed->process().output());
  REQUIRE(held == 3 * one);  // three calls reserved, sent, and hanging at the provider
  doomed->process().signal(SIGKILL);
  REQUIRE(doomed->process().wait_exit(scaled(5s)).has_value());
  // Not before its leases expire, then in full (the provider may have
  // served them: never an undercount), once.
  const auto killed = std::chrono::steady_clock::now();
  json u;
  while (std::chrono::steady_clock::now() - killed < scaled(10s)) {
    u = anthropic();
    if (u["reserved"] == 0) break;  // else read again: each read is a round trip
  }
  INFO(u.dump());
  CHECK(u["reserved"] == 0);
  CHECK(u["used"] == held);
  CHECK(std::chrono::steady_clock::now() - killed < scaled(10s));
}

TEST_CASE("PostgreSQL restarted under load costs refusals and loses no charge") {
  PrivatePostgres pg;
  FakeProviderProcess fake;
  TollgatedProcess d(merge(fake.provider_env(), {{"TOLLGATE_LEDGER", pg.uri()},
                                                 {"ANTHROPIC_RPM", "0"}, {"OPENAI_RPM", "0"}}));
  zmq::context_t ctx;
  std::atomic<bool> stop{false};
  tollgate::testing::ReplyTally tally;
  {
    std::vector<std::jthread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        tollgate::testing::call_until_stopped(ctx, d.requests(), "load", std::to_string(t), stop,
                                              tally);
      });
    }
    CHECK(tally.wait_for_ok(40, scaled(15s)));
    pg.pause();
    CHECK(tally.wait_for_error("ledger_unavailable", 20, scaled(15s)));
    pg.resume();
    const uint64_t before = [&] {
      std::lock_guard lock(tally.mu);
      return tally.ok;
    }();
    CHECK(tally.wait_for_ok(before + 40, scaled(15s)));
    stop = true;
  }
  std::string replies = [&] {
    std::lock_guard lock(tally.mu);
    std::string r = "ok " + std::to_string(tally.ok);
    for (const auto& [code, n] : tally.errors) r += ", " + code + " " + std::to_string(n);
    return r;
  }();
  INFO(replies);
  // Every token a provider served is charged once the kept charges are
  // applied: no more, no less.
  TestClient client(ctx, d.requests());
  json usage;
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  while (std::chrono::steady_clock::now() < deadline) {
    usage = client.request({{"op", "usage"}, {"ai_name", "load"}});
    if (usage["ok"] == true && usage["providers"]["anthropic"]["reserved"] == 0 &&
        usage["providers"]["openai"]["reserved"] == 0) {
      break;  // else ask again: each read is a round trip to the daemon
    }
  }
  INFO(usage.dump());
  const auto stats = fake.stats();
  for (const std::string provider : {"anthropic", "openai"}) {
    CHECK(usage["providers"][provider]["reserved"] == 0);
    CHECK(usage["providers"][provider]["used"] == tollgate::testing::served(stats, provider));
  }
}
