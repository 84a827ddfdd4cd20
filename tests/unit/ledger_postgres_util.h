// Helpers of the PostgreSQL ledger's own tests (ledger_postgres_test.cpp,
// ledger_postgres_events_test.cpp): waits stretched by
// TOLLGATE_TEST_TIME_SCALE, opening a ledger, the writers' batches as
// events, and a database of a test's own. Test threads only.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <catch2/catch.hpp>

#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_ledger.h"
#include "tests/unit/ledger_test_util.h"

namespace tollgate::ledger::testing {
// TOLLGATE_TEST_TIME_SCALE stretches waits for what must happen.
inline std::chrono::milliseconds scaled(std::chrono::milliseconds bound) {
  const char* s = std::getenv("TOLLGATE_TEST_TIME_SCALE");
  const double scale = s ? std::atof(s) : 1.0;
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(bound.count()) * (scale >= 1 ? scale : 1.0)));
}

inline std::unique_ptr<PgLedger> open_pg(PgLedgerOptions o, BudgetPolicy policy) {
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

}  // namespace tollgate::ledger::testing
