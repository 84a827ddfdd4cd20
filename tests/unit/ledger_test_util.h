// Helpers shared by the ledger tests: a fake "now", a temporary data
// directory, a budget policy with fixed limits, and the backends of the
// conformance suite.
//
// The conformance suite (tests/unit/ledger_*_test.cpp) runs each
// behavioural case against every backend in LEDGER_BACKENDS:
//
//   TEMPLATE_TEST_CASE("a sentence about behaviour", "[ledger]", LEDGER_BACKENDS) {
//     TestType backend;
//     auto l = backend.open(policy);        // a Ledger
//     ...
//     l.reset(); l = backend.open(policy);  // reopened: what it left is kept
//   }
//
// A backend is a class with open(policy, now_ms, SuiteOptions) returning
// an open std::unique_ptr<Ledger> over its store (the store outlives each
// ledger, as a data directory does), and where(): how its failure reasons
// name the store. A new backend is one such class here and one more name
// in LEDGER_BACKENDS.
//
// Postgres needs the test PostgreSQL server (tools/pg-test-server.sh; CTest
// starts it as the `postgres` fixture and the tests find its URI in
// pg-test/uri of the build directory, or in TOLLGATE_PG_URI); each test
// gets a schema of its own, dropped at its end.
//
// Test threads only (they use Catch2's REQUIRE).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/memory/memory_ledger.h"
#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_ledger.h"

#define LEDGER_BACKENDS Lmdb, Memory, Postgres

namespace tollgate::ledger::testing {

inline constexpr int64_t kNov15 = 1731664800000;  // 2024-11-15T10:00:00Z
inline constexpr int64_t kDec1 = 1733011200000;   // 2024-12-01T00:00:00Z

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tollgate-ledger-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Every agent gets agent_limit of every provider; every provider has the
// same global limit (nullopt: none).
inline BudgetPolicy fixed_policy(std::vector<std::string> providers, uint64_t agent_limit,
                                 std::optional<uint64_t> global_limit,
                                 bool shutdown_on_emergency = false) {
  BudgetPolicy p;
  p.providers = std::move(providers);
  p.agent_limit = [agent_limit](const std::string&, const std::string&) { return agent_limit; };
  p.global_limit = [global_limit](const std::string&) { return global_limit; };
  p.shutdown_on_emergency = shutdown_on_emergency;
  return p;
}

// A reservation request; wait_for > 0 lets it queue that long for room
// held by other reservations (admission, PROTOCOL.md section 3 rule 6).
inline ReserveRequest reserve_request(std::string agent, std::string provider, uint64_t amount,
                                      std::string request_id, int64_t now_ms,
                                      std::chrono::milliseconds wait_for = {},
                                      std::optional<double> soft_threshold = std::nullopt) {
  ReserveRequest r;
  r.agent = std::move(agent);
  r.provider = std::move(provider);
  r.amount = amount;
  r.request_id = std::move(request_id);
  r.now_ms = now_ms;
  if (wait_for.count() > 0) r.wait_until = std::chrono::steady_clock::now() + wait_for;
  r.soft_threshold = soft_threshold;
  return r;
}

// An operator's limit of `tokens` on one budget, set at now_ms.
inline SetLimitRequest limit_request(std::string scope, std::string provider, uint64_t tokens,
                                     int64_t now_ms = kNov15) {
  SetLimitRequest r;
  r.scope = std::move(scope);
  r.provider = std::move(provider);
  r.tokens = tokens;
  r.now_ms = now_ms;
  return r;
}

// What the suite asks of every backend besides the policy.
struct SuiteOptions {
  // Called before each write (probes included); a non-zero errno-style
  // code fails that write as a failing disk would. Set: only explicit
  // probes clear the degraded state.
  std::function<int()> write_fault;
  // Called after every durable batch of writes.
  std::function<void()> after_batch;
  std::function<void(const LateSettlement&)> on_late_settlement;
  size_t prune_rows_per_step = kPruneRowsPerStep;
  // false: no fsync where the backend has one (tests about races only).
  bool durable = true;
};

// The LMDB backend: a ledger in a temporary directory.
class Lmdb {
 public:
  std::unique_ptr<Ledger> open(BudgetPolicy policy, int64_t now_ms = kNov15,
                               SuiteOptions suite = {}) {
    LmdbLedgerOptions o;
    o.dir = dir_.path;
    o.durable = suite.durable;
    o.after_batch = std::move(suite.after_batch);
    o.on_late_settlement = std::move(suite.on_late_settlement);
    o.prune_rows_per_step = suite.prune_rows_per_step;
    if (suite.write_fault) {
      o.commit_fault = std::move(suite.write_fault);
      o.probe_interval = std::chrono::hours(1);  // only explicit probes
    }
    auto l = LmdbLedger::open(std::move(o), std::move(policy), now_ms);
    REQUIRE(l.ok());
    return std::move(l.value());
  }
  std::string where() const { return dir_.path; }
  const std::string& dir() const { return dir_.path; }

 private:
  TempDir dir_;
};

// The memory backend: tables kept from one ledger to the next.
class Memory {
 public:
  std::unique_ptr<Ledger> open(BudgetPolicy policy, int64_t now_ms = kNov15,
                               SuiteOptions suite = {}) {
    MemoryLedgerOptions o;
    o.tables = tables_;
    o.after_write = std::move(suite.after_batch);
    o.on_late_settlement = std::move(suite.on_late_settlement);
    o.prune_rows_per_step = suite.prune_rows_per_step;
    if (suite.write_fault) {
      o.write_fault = [fault = std::move(suite.write_fault)]() -> std::string {
        const int code = fault();
        return code == 0 ? std::string() : "injected fault: " + std::string(std::strerror(code));
      };
    }
    auto l = MemoryLedger::open(std::move(o), std::move(policy), now_ms);
    REQUIRE(l.ok());
    return std::move(l.value());
  }
  std::string where() const { return "memory"; }

 private:
  std::shared_ptr<MemoryTables> tables_ = std::make_shared<MemoryTables>();
};

// The test PostgreSQL server's URI (see the top of this file).
inline std::string test_pg_uri() {
  if (const char* uri = std::getenv("TOLLGATE_PG_URI")) return uri;
  std::string file = "pg-test/uri";
  if (const char* bin = std::getenv("TOLLGATE_BIN_DIR")) file = std::string(bin) + "/../pg-test/uri";
  FILE* f = std::fopen(file.c_str(), "r");
  INFO("no test PostgreSQL: start one with tools/pg-test-server.sh start BUILD/pg-test, or set "
       "TOLLGATE_PG_URI");
  REQUIRE(f != nullptr);
  char line[512] = {};
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  REQUIRE(read);
  std::string uri(line);
  while (!uri.empty() && (uri.back() == '\n' || uri.back() == ' ')) uri.pop_back();
  return uri;
}

// A schema of its own in the test PostgreSQL, dropped with everything in it.
struct PgSchema {
  std::string uri = test_pg_uri();
  std::string name;
  PgSchema() {
    static std::atomic<int> counter{0};
    name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  }
  ~PgSchema() {
    try {
      pg::PgConn::connect(uri, 10000)->exec("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    } catch (const pg::PgError& e) {
      WARN("could not drop test schema " << name << ": " << e.what());
    }
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;
};

// The PostgreSQL backend: a ledger in a fresh schema, kept from one ledger
// to the next; one daemon id unless the test names another.
class Postgres {
 public:
  std::unique_ptr<Ledger> open(BudgetPolicy policy, int64_t now_ms = kNov15,
                               SuiteOptions suite = {}, std::string daemon_id = "daemon-a") {
    auto l = PgLedger::open(options(std::move(suite), std::move(daemon_id)), std::move(policy),
                            now_ms);
    INFO((l.ok() ? std::string() : l.error().message));
    REQUIRE(l.ok());
    return std::move(l.value());
  }
  PgLedgerOptions options(SuiteOptions suite = {}, std::string daemon_id = "daemon-a") const {
    PgLedgerOptions o;
    o.uri = schema_.uri;
    o.schema = schema_.name;
    o.daemon_id = std::move(daemon_id);
    o.durable = suite.durable;
    o.after_batch = std::move(suite.after_batch);
    o.on_late_settlement = std::move(suite.on_late_settlement);
    o.prune_rows_per_step = suite.prune_rows_per_step;
    if (suite.write_fault) {
      o.write_fault = [fault = std::move(suite.write_fault)]() -> std::string {
        const int code = fault();
        return code == 0 ? std::string() : "injected fault: " + std::string(std::strerror(code));
      };
      o.probe_interval = std::chrono::hours(1);  // only explicit probes
    }
    return o;
  }
  std::string where() const { return "PostgreSQL"; }
  const PgSchema& schema() const { return schema_; }

 private:
  PgSchema schema_;
};

// LMDB-only tests: opens a ledger with these options; the test stops if it
// does not open.
inline std::unique_ptr<LmdbLedger> open_ledger(LmdbLedgerOptions options, BudgetPolicy policy,
                                               int64_t now_ms = kNov15) {
  auto l = LmdbLedger::open(std::move(options), std::move(policy), now_ms);
  REQUIRE(l.ok());
  return std::move(l.value());
}

// Opens an LMDB ledger in dir with default options.
inline std::unique_ptr<LmdbLedger> open_ledger(const std::string& dir, BudgetPolicy policy,
                                               int64_t now_ms = kNov15) {
  LmdbLedgerOptions o;
  o.dir = dir;
  return open_ledger(std::move(o), std::move(policy), now_ms);
}

// The usage of `provider` in `scope` (an agent, or "*") in November 2024,
// the month of kNov15.
inline BudgetUsage usage_of(const Ledger& l, const std::string& scope, const std::string& provider) {
  auto u = l.usage(scope, "2024-11");
  REQUIRE(u.ok());
  return u.value()[provider];
}

}  // namespace tollgate::ledger::testing
