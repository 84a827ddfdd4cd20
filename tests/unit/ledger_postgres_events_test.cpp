// The PostgreSQL ledger's outages and its events across daemons
// (pg_ledger.h, alert_listener.h): a read that cannot reach the database,
// alerts and ledger records fired on one daemon heard by the others once,
// also after a disconnection. Against the test PostgreSQL server
// (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_ledger.h"
#include "tests/unit/ledger_postgres_util.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

TEST_CASE("a read that cannot reach PostgreSQL makes the ledger degraded before it returns",
          "[ledger][postgres]") {
  OwnDatabase db("tg_unreachable_");
  {
    PgLedgerOptions o;
    o.uri = db.uri();
    o.daemon_id = "daemon-a";
    auto l = open_pg(o, fixed_policy({"anthropic"}, 100000, std::nullopt));
    REQUIRE(l->reserve("a1", "anthropic", 10, "r", kNov15)->reserved());
    REQUIRE(l->usage("a1", "2024-11").ok());  // a reader connection in the pool
    CHECK_FALSE(l->degraded());
    db.admin->exec("ALTER DATABASE " + db.name + " ALLOW_CONNECTIONS false");
    db.cut_connections();
    auto read = l->usage("a1", "2024-11");
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().code == tollgate::protocol::ErrorCode::kLedgerUnavailable);
    // Not after the writer's next batch finds out: at once.
    CHECK(l->degraded());
    CHECK_FALSE(l->reserve("a1", "anthropic", 10, "r2", kNov15).ok());
  }
}

TEST_CASE("alerts fired while a daemon was not listening are published by it once it listens again and its own are not",
          "[ledger][postgres]") {
  OwnDatabase db("tg_relisten_");
  {
    std::mutex mu;
    std::condition_variable changed;
    std::vector<Alert> heard_b;
    std::vector<LedgerRecord> records_b;
    int connects_b = 0;
    bool gate_open = true;
    auto options = [&](std::string id) {
      PgLedgerOptions o;
      o.uri = db.uri();
      o.daemon_id = std::move(id);
      o.on_remote_alert = [](const Alert&) {};
      return o;
    };
    PgLedgerOptions ob = options("daemon-b");
    ob.on_remote_alert = [&](const Alert& a) {
      {
        std::lock_guard lock(mu);
        heard_b.push_back(a);
      }
      changed.notify_all();
    };
    ob.on_remote_record = [&](const LedgerRecord& r) {
      {
        std::lock_guard lock(mu);
        records_b.push_back(r);
      }
      changed.notify_all();
    };
    ob.before_listen = [&] {
      std::unique_lock lock(mu);
      ++connects_b;
      changed.notify_all();
      changed.wait(lock, [&] { return gate_open; });
    };
    const auto policy = fixed_policy({"anthropic"}, 1000, std::nullopt);
    auto a = open_pg(options("daemon-a"), policy);
    auto b = open_pg(std::move(ob), policy);
    // However the test ends, b's listener may go on (and b close).
    struct OpenGate {
      std::mutex& mu;
      std::condition_variable& changed;
      bool& open;
      ~OpenGate() {
        {
          std::lock_guard lock(mu);
          open = true;
        }
        changed.notify_all();
      }
    } open_at_exit{mu, changed, gate_open};
    // Reserve and commit; a ledger whose connection was cut is degraded
    // until a probe reconnects it (explicit here, not the next second's).
    auto charge = [](Ledger& l, uint64_t tokens) {
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto r = l.reserve("a1", "anthropic", tokens, "r", kNov15);
        if (!r.ok()) {
          INFO(r.error().message);
          CHECK(l.probe().ok());  // the probe answers; whether it reconnected, the next try says
          continue;
        }
        REQUIRE(r->reserved());
        auto c = l.commit(r->reservation_id, tokens, 0, 0, kNov15);
        REQUIRE(c.ok());
        REQUIRE_FALSE(c->deferred);
        return c->alerts;
      }
      FAIL("the ledger did not take a charge again");
      return std::vector<Alert>{};
    };
    auto wait_heard = [&](size_t n) {
      std::unique_lock lock(mu);
      return changed.wait_for(lock, scaled(std::chrono::seconds(5)),
                              [&] { return heard_b.size() >= n; }) &&
             heard_b.size() == n;
    };
    REQUIRE(charge(*a, 850).size() == 1);  // warning: heard, so b listens
    REQUIRE(wait_heard(1));
    {
      std::lock_guard lock(mu);
      gate_open = false;
    }
    db.cut_connections();
    {
      // b's listener found its connection gone and waits at the gate.
      std::unique_lock lock(mu);
      REQUIRE(changed.wait_for(lock, scaled(std::chrono::seconds(5)), [&] { return connects_b == 2; }));
    }
    // A's writer and b's connect again on their own; b's listener not yet.
    const std::vector<Alert> critical = charge(*a, 110);
    REQUIRE(critical.size() == 1);
    const std::vector<Alert> emergency = charge(*b, 25);  // b's own, while it does not listen
    REQUIRE(emergency.size() == 1);
    SetLimitRequest limit = limit_request("a2", "anthropic", 3000);
    REQUIRE(a->set_limit(limit).ok());
    {
      std::lock_guard lock(mu);
      CHECK(heard_b.size() == 1);
      gate_open = true;
    }
    changed.notify_all();
    CHECK(wait_heard(2));
    std::unique_lock lock(mu);
    CHECK(changed.wait_for(lock, scaled(std::chrono::seconds(5)), [&] { return !records_b.empty(); }));
    REQUIRE(heard_b.size() == 2);
    CHECK(heard_b[1].level == critical[0].level);
    CHECK(heard_b[1].log_seq == critical[0].log_seq);
    CHECK(heard_b[1].level != emergency[0].level);
    REQUIRE(records_b.size() == 1);
    CHECK(std::get<LimitChange>(records_b[0].change).scope == "a2");
  }
}

TEST_CASE("a limit set and a reset made through one PostgreSQL ledger reach the other daemons as ledger records once",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 1000, std::nullopt);
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, std::vector<LedgerRecord>> heard;
  auto listening = [&](std::string id) {
    PgLedgerOptions o = backend.options({}, id);
    o.on_remote_record = [&, id](const LedgerRecord& r) {
      {
        std::lock_guard lock(mu);
        heard[id].push_back(r);
      }
      changed.notify_all();
    };
    return open_pg(std::move(o), policy);
  };
  auto a = listening("daemon-a");
  auto b = listening("daemon-b");
  SetLimitRequest limit = limit_request("a1", "anthropic", 5000);
  REQUIRE(a->set_limit(limit).ok());
  REQUIRE(a->reset("a1", std::nullopt, kNov15).ok());
  {
    std::unique_lock lock(mu);
    REQUIRE(changed.wait_for(lock, scaled(std::chrono::seconds(5)),
                             [&] { return heard["daemon-b"].size() >= 2; }));
    REQUIRE(heard["daemon-b"].size() == 2);
    CHECK(std::holds_alternative<LimitChange>(heard["daemon-b"][0].change));
    CHECK(std::get<LimitChange>(heard["daemon-b"][0].change).tokens == 5000u);
    CHECK(std::holds_alternative<ResetChange>(heard["daemon-b"][1].change));
  }
  // b's own change reaches a; then a has heard exactly that one.
  limit.tokens = 6000;
  REQUIRE(b->set_limit(limit).ok());
  std::unique_lock lock(mu);
  REQUIRE(changed.wait_for(lock, scaled(std::chrono::seconds(5)),
                           [&] { return heard["daemon-a"].size() >= 1; }));
  CHECK(heard["daemon-a"].size() == 1);
  CHECK(heard["daemon-b"].size() == 2);  // not its own
}

TEST_CASE("an alert fired on one PostgreSQL ledger reaches the other daemons once and not its own",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 1000, std::nullopt);
  struct Heard {
    std::mutex mu;
    std::condition_variable changed;
    std::vector<Alert> alerts;
    size_t count() {
      std::lock_guard lock(mu);
      return alerts.size();
    }
    // Waits until `n` alerts are heard or `bound` (scaled) passes; true
    // when exactly `n` were.
    bool wait_for(size_t n, std::chrono::milliseconds bound) {
      std::unique_lock lock(mu);
      return changed.wait_for(lock, scaled(bound), [&] { return alerts.size() >= n; }) &&
             alerts.size() == n;
    }
  };
  Heard heard_a, heard_b;
  auto listening = [&](std::string id, Heard& heard) {
    PgLedgerOptions o = backend.options({}, std::move(id));
    o.on_remote_alert = [&heard](const Alert& a) {
      {
        std::lock_guard lock(heard.mu);
        heard.alerts.push_back(a);
      }
      heard.changed.notify_all();
    };
    return open_pg(std::move(o), policy);
  };
  auto a = listening("daemon-a", heard_a);
  auto b = listening("daemon-b", heard_b);
  // The listener is connected once an announcement made now is heard: a
  // first alert (warning) proves it, the second (critical) is the test.
  const auto r1 = a->reserve("a1", "anthropic", 850, "r1", kNov15).value();
  const auto c1 = a->commit(r1.reservation_id, 850, 0, 0, kNov15).value();
  REQUIRE(c1.alerts.size() == 1);
  REQUIRE(heard_b.wait_for(1, std::chrono::seconds(5)));
  const auto r2 = b->reserve("a1", "anthropic", 120, "r2", kNov15).value();
  const auto c2 = b->commit(r2.reservation_id, 120, 0, 0, kNov15).value();
  REQUIRE_FALSE(c2.alerts.empty());
  REQUIRE(heard_a.wait_for(c2.alerts.size(), std::chrono::seconds(5)));
  std::lock_guard lock(heard_a.mu);
  for (size_t i = 0; i < c2.alerts.size(); ++i) {
    CHECK(heard_a.alerts[i].level == c2.alerts[i].level);
    CHECK(heard_a.alerts[i].log_seq == c2.alerts[i].log_seq);
  }
  CHECK(heard_b.count() == 1);  // its own alerts are not handed back to it
}
