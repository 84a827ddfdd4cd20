// What only the PostgreSQL ledger has (pg_ledger.h): several ledgers
// ("daemons") on one database, the schema version, leases and the local
// spool of settlements kept while the database is unreachable. Against the
// test PostgreSQL server (ledger_test_util.h).
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


TEST_CASE("two PostgreSQL ledgers on one database never admit over a limit together",
          "[ledger][postgres]") {
  constexpr uint64_t kLimit = 200000;
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, kLimit, std::nullopt);
  std::array<std::unique_ptr<Ledger>, 2> daemons = {
      backend.open(policy, kNov15, {}, "daemon-a"), backend.open(policy, kNov15, {}, "daemon-b")};
  std::atomic<uint64_t> charged{0}, refused{0}, errors{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        Ledger& l = *daemons[static_cast<size_t>(t % 2)];
        std::mt19937_64 rng(77 + t);
        std::uniform_int_distribution<uint64_t> amount(1000, 9000);
        for (int i = 0; i < 250; ++i) {
          const uint64_t want = amount(rng);
          auto r = l.reserve("a1", "anthropic", want, "r", kNov15);
          if (!r.ok()) { errors++; continue; }
          if (!r->reserved()) { refused++; continue; }
          const uint64_t used = want / 2 + (rng() % (want / 2));
          if (l.commit(r->reservation_id, used, 0, 0, kNov15).ok()) {
            charged += used;
          } else {
            errors++;
          }
        }
      });
    }
  }
  CHECK(errors == 0);
  CHECK(refused > 0);  // the limit really was reached
  for (const auto& l : daemons) {
    const BudgetUsage u = usage_of(*l, "a1", "anthropic");
    CHECK(u.used == charged.load());
    CHECK(u.used <= kLimit);
    CHECK(u.reserved == 0);
  }
}

TEST_CASE("two PostgreSQL ledgers on one database share one per-minute rate limit",
          "[ledger][postgres][rate]") {
  constexpr uint32_t kPerMinute = 7;
  Postgres backend;
  BudgetPolicy policy = fixed_policy({"anthropic"}, 1000000, std::nullopt);
  policy.rate_limits = [](const std::string&) { return tollgate::policy::RateLimits{kPerMinute, 0}; };
  std::array<std::unique_ptr<Ledger>, 2> daemons = {
      backend.open(policy, kNov15, {}, "daemon-a"), backend.open(policy, kNov15, {}, "daemon-b")};
  std::atomic<uint64_t> reserved{0}, limited{0}, errors{0};
  std::atomic<int64_t> shortest_wait{INT64_MAX};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        Ledger& l = *daemons[static_cast<size_t>(t % 2)];
        for (int i = 0; i < 10; ++i) {
          // Each thread's clock moves on a little; all within one minute.
          auto r = l.reserve("a1", "anthropic", 10, "r", kNov15 + t * 100 + i);
          if (!r.ok()) {
            errors++;
          } else if (r->reserved()) {
            reserved++;
          } else if (r->status == ReserveStatus::kRateLimited) {
            limited++;
            int64_t seen = shortest_wait.load();
            while (r->retry_after_ms < seen && !shortest_wait.compare_exchange_weak(seen, r->retry_after_ms)) {}
          }
        }
      });
    }
  }
  CHECK(errors == 0);
  CHECK(reserved == kPerMinute);
  CHECK(limited == 40 - kPerMinute);
  CHECK(shortest_wait.load() > 59000);  // all 40 were within 1 s of each other
  CHECK(daemons[1]->requests_today("anthropic", kNov15).value() == kPerMinute);
}

TEST_CASE("a plan reuses its agent's budgets briefly but sees a limit set through its own daemon at once",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 1000, std::nullopt);
  PgLedgerOptions oa = backend.options({}, "daemon-a");
  oa.snapshot_reuse = std::chrono::hours(1);
  auto a = open_pg(std::move(oa), policy);
  auto b = backend.open(policy, kNov15, {}, "daemon-b");
  CHECK(a->snapshot("a1", kNov15)->providers["anthropic"].agent.used == 0);
  const auto r = b->reserve("a1", "anthropic", 500, "r", kNov15).value();
  REQUIRE(b->commit(r.reservation_id, 500, 0, 0, kNov15).ok());
  // Another daemon's charge: not read again within the reuse (a plan only
  // orders providers; b's reserve would still have been checked exactly).
  CHECK(a->snapshot("a1", kNov15)->providers["anthropic"].agent.used == 0);
  SetLimitRequest limit = limit_request("a1", "anthropic", 2000);
  REQUIRE(a->set_limit(limit).ok());
  const auto fresh = a->snapshot("a1", kNov15).value();
  CHECK(fresh.providers.at("anthropic").agent.used == 500);
  CHECK(fresh.providers.at("anthropic").agent.limit == 2000);
  // Without reuse every plan reads.
  PgLedgerOptions oc = backend.options({}, "daemon-c");
  oc.snapshot_reuse = std::chrono::milliseconds(0);
  auto c = open_pg(std::move(oc), policy);
  CHECK(c->snapshot("a1", kNov15)->providers["anthropic"].agent.used == 500);
  const auto r2 = b->reserve("a1", "anthropic", 100, "r2", kNov15).value();
  REQUIRE(b->commit(r2.reservation_id, 100, 0, 0, kNov15).ok());
  CHECK(c->snapshot("a1", kNov15)->providers["anthropic"].agent.used == 600);
}

TEST_CASE("a PostgreSQL ledger refuses a schema newer than its own with a clear error",
          "[ledger][postgres]") {
  Postgres backend;
  backend.open(fixed_policy({"anthropic"}, 1000, std::nullopt)).reset();
  auto conn = pg::PgConn::connect(backend.schema().uri, 10000);
  conn->exec("UPDATE " + backend.schema().name + ".tollgate_schema SET version = 99");
  auto l = PgLedger::open(backend.options(), fixed_policy({"anthropic"}, 1000, std::nullopt), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains("schema 99") && Catch::Contains("newer"));
}

TEST_CASE("a PostgreSQL ledger reopened with its daemon id charges only its own leftovers",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 100000, std::nullopt);
  auto a = backend.open(policy, kNov15, {}, "daemon-a");
  auto b = backend.open(policy, kNov15, {}, "daemon-b");
  REQUIRE(a->reserve("a1", "anthropic", 300, "ra", kNov15).value().reserved());
  const auto rb = b->reserve("a1", "anthropic", 500, "rb", kNov15).value();
  REQUIRE(rb.reserved());
  a.reset();  // daemon-a stops without settling; its next start charges it
  a = backend.open(policy, kNov15, {}, "daemon-a");
  CHECK(a->report().recovered_tokens == 300);
  BudgetUsage u = usage_of(*a, "a1", "anthropic");
  CHECK(u.used == 300);
  CHECK(u.reserved == 500);  // daemon-b's call is still running
  REQUIRE(b->commit(rb.reservation_id, 200, 100, 0, kNov15).ok());
  u = usage_of(*b, "a1", "anthropic");
  CHECK(u.used == 600);
  CHECK(u.reserved == 0);
}

TEST_CASE("a live PostgreSQL ledger charges the expired leases of a dead one exactly once",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 100000, std::nullopt);
  BatchEvents events;
  auto short_lease = [&](std::string id) {
    PgLedgerOptions o = backend.options({}, std::move(id));
    o.lease = std::chrono::seconds(1);
    o.after_batch = events.hook();
    return open_pg(std::move(o), policy);
  };
  auto dead = short_lease("daemon-dead");
  REQUIRE(dead->reserve("a1", "anthropic", 700, "r", kNov15).value().reserved());
  dead.reset();  // its lease is no longer renewed
  auto b = short_lease("daemon-b");
  auto c = short_lease("daemon-c");
  CHECK(events.wait_for(std::chrono::seconds(5), [&] {
    return usage_of(*b, "a1", "anthropic").reserved == 0;
  }));
  const BudgetUsage u = usage_of(*c, "a1", "anthropic");
  CHECK(u.used == 700);  // charged in full, once though two daemons looked
  CHECK(u.reserved == 0);
}

TEST_CASE("a daemon starting after an outage longer than a lease leaves a live daemon's calls to it",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 100000, std::nullopt);
  std::atomic<bool> down{false};
  SuiteOptions suite;
  suite.write_fault = [&] { return down.load() ? EIO : 0; };
  PgLedgerOptions oa = backend.options(suite, "daemon-a");
  oa.lease = std::chrono::seconds(2);
  auto a = open_pg(std::move(oa), policy);
  const auto running = a->reserve("a1", "anthropic", 700, "running", kNov15).value();
  REQUIRE(running.reserved());
  // The outage, as daemon a lives it: degraded, renewing nothing; its lease
  // runs out (set so here rather than waited for).
  down = true;
  const auto failed = a->probe();
  CHECK_FALSE((failed.ok() && *failed));
  REQUIRE(a->degraded());
  pg::PgConn::connect(backend.schema().uri, 10000)
      ->exec("UPDATE " + backend.schema().name +
             ".tollgate_reservations SET lease_until = now() - interval '1 second'");
  // The database is back: daemon b starts first; a is not back yet.
  PgLedgerOptions ob = backend.options({}, "daemon-b");
  ob.lease = std::chrono::seconds(2);
  auto b = open_pg(std::move(ob), policy);
  CHECK(usage_of(*b, "a1", "anthropic").reserved == 700);  // not charged at b's start
  CHECK(usage_of(*b, "a1", "anthropic").used == 0);
  down = false;
  const auto back = a->probe();  // a is back and renews within a third of a lease
  REQUIRE(back.ok());
  REQUIRE(*back);
  // The call ends: charged what the provider reported, not the 700 held.
  const auto c = a->commit(running.reservation_id, 60, 40, 0, kNov15);
  INFO((c.ok() ? std::string() : c.error().message));
  REQUIRE(c.ok());
  const BudgetUsage u = usage_of(*b, "a1", "anthropic");
  CHECK(u.used == 100);
  CHECK(u.reserved == 0);
}

TEST_CASE("a reservation whose commit answer was lost expires and is charged in full while the daemon runs",
          "[ledger][postgres]") {
  Postgres backend;
  const auto policy = fixed_policy({"anthropic"}, 100000, std::nullopt);
  std::atomic<bool> lose{false};
  BatchEvents events;
  PgLedgerOptions o = backend.options({}, "daemon-a");
  o.lease = std::chrono::seconds(1);
  o.after_batch = events.hook();
  o.probe_interval = std::chrono::milliseconds(100);
  o.lost_commit = [&] { return lose.load(); };
  auto l = open_pg(std::move(o), policy);
  const auto running = l->reserve("a1", "anthropic", 700, "running", kNov15).value();
  REQUIRE(running.reserved());
  lose = true;  // the server commits the next batch; its answer is lost
  CHECK_FALSE(l->reserve("a1", "anthropic", 400, "lost", kNov15).ok());
  lose = false;
  // The lost one is no longer renewed: charged in full once it expires; the
  // running one keeps its lease.
  CHECK(events.wait_for(std::chrono::seconds(5), [&] {
    return usage_of(*l, "a1", "anthropic").used == 400;
  }));
  BudgetUsage u = usage_of(*l, "a1", "anthropic");
  CHECK(u.reserved == 700);
  REQUIRE(l->commit(running.reservation_id, 60, 40, 0, kNov15).ok());
  u = usage_of(*l, "a1", "anthropic");
  CHECK(u.used == 500);
  CHECK(u.reserved == 0);
}

TEST_CASE("settlements kept while PostgreSQL is unreachable survive a restart in the spool",
          "[ledger][postgres]") {
  Postgres backend;
  TempDir spool;
  std::atomic<bool> down{false};
  const auto policy = fixed_policy({"anthropic"}, 100000, std::nullopt);
  SuiteOptions suite;
  suite.write_fault = [&] { return down.load() ? EIO : 0; };
  PgLedgerOptions o = backend.options(suite);
  o.spool_dir = spool.path;
  auto l = open_pg(o, policy);
  const auto r = l->reserve("a1", "anthropic", 1000, "r", kNov15).value();
  REQUIRE(r.reserved());
  down = true;
  const auto c = l->commit(r.reservation_id, 250, 50, 0, kNov15);
  REQUIRE(c.ok());
  CHECK(c->deferred);
  CHECK(std::filesystem::exists(spool.path + "/pg-settlements.spool"));
  l.reset();  // the daemon dies while the database is still unreachable
  down = false;
  l = open_pg(o, policy);
  const BudgetUsage u = usage_of(*l, "a1", "anthropic");
  CHECK(u.used == 300);  // the real charge, not the reservation's 1000
  CHECK(u.reserved == 0);
  CHECK_FALSE(std::filesystem::exists(spool.path + "/pg-settlements.spool"));
}
