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
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

// TOLLGATE_TEST_TIME_SCALE stretches waits for what must happen.
std::chrono::milliseconds scaled(std::chrono::milliseconds bound) {
  const char* s = std::getenv("TOLLGATE_TEST_TIME_SCALE");
  const double scale = s ? std::atof(s) : 1.0;
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(bound.count()) * (scale >= 1 ? scale : 1.0)));
}

std::unique_ptr<PgLedger> open_pg(PgLedgerOptions o, BudgetPolicy policy) {
  auto l = PgLedger::open(std::move(o), std::move(policy), kNov15);
  INFO((l.ok() ? std::string() : l.error().message));
  REQUIRE(l.ok());
  return std::move(l.value());
}

// The batches the ledgers' writers have committed (after_batch: the lease
// sweeps that charge expired reservations are batches too), so a test
// waits for the next one instead of sleeping between looks.
class BatchEvents {
 public:
  std::function<void()> hook() {
    return [this] {
      {
        std::lock_guard lock(mu_);
        ++batches_;
      }
      changed_.notify_all();
    };
  }
  // Checks `done` now and after each batch until it holds or `bound`
  // (scaled) passes.
  template <class F>
  bool wait_for(std::chrono::milliseconds bound, F done) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(bound);
    std::unique_lock lock(mu_);
    for (;;) {
      const uint64_t seen = batches_;
      lock.unlock();
      if (done()) return true;
      lock.lock();
      if (!changed_.wait_until(lock, deadline, [&] { return batches_ != seen; })) {
        lock.unlock();
        return done();
      }
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t batches_ = 0;
};

// A database of its own on the test server, dropped at the end: for a test
// that cuts every connection to it, leaving the other tests' alone.
struct OwnDatabase {
  const std::string base = test_pg_uri();
  const std::string name;
  std::unique_ptr<pg::PgConn> admin = pg::PgConn::connect(base, 10000);
  explicit OwnDatabase(const std::string& prefix) : name(prefix + std::to_string(::getpid())) {
    admin->exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    admin->exec("CREATE DATABASE " + name);
  }
  ~OwnDatabase() {
    try {
      admin->exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const pg::PgError& e) {
      WARN("could not drop test database " << name << ": " << e.what());
    }
  }
  OwnDatabase(const OwnDatabase&) = delete;
  OwnDatabase& operator=(const OwnDatabase&) = delete;
  std::string uri() const { return base.substr(0, base.rfind('/') + 1) + name; }
  // Ends every session on it but the admin's own.
  void cut_connections() const {
    admin->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name +
                "' AND pid <> pg_backend_pid()");
  }
};

}  // namespace

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
