// `tollctl migrate-ledger` (tools/tollctl/migrate_ledger.h): an LMDB
// ledger copied into PostgreSQL reads the same there, its leftover
// reservation is charged once by the first daemon, and a PostgreSQL ledger
// with rows already is refused. Against the test PostgreSQL server.
#include <catch2/catch.hpp>

#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/postgres/pg_ledger.h"
#include "tests/unit/ledger_test_util.h"
#include "tools/tollctl/migrate_ledger.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

// What a ledger says about itself, for comparing two of them.
std::string portrait(const Ledger& l) {
  std::string out;
  for (const std::string agent : {"a1", "a2"}) {
    const auto usage = l.usage(agent, "2024-11");
    REQUIRE(usage.ok());
    for (const auto& [provider, u] : usage.value()) {
      out += agent + " " + provider + " used " + std::to_string(u.used) + " reserved " +
             std::to_string(u.reserved) + "\n";
    }
  }
  const auto alerts = l.alerts(100, std::nullopt, std::nullopt);
  REQUIRE(alerts.ok());
  for (const auto& a : alerts.value()) {
    out += "alert " + a.ai_name + " " + a.provider + " " + std::to_string(a.log_seq) + "\n";
  }
  const auto limits = l.limits();
  REQUIRE(limits.ok());
  for (const auto& e : limits.value()) out += "limit " + e.scope + " " + e.provider + "\n";
  const auto events = l.ledger_events(100, std::nullopt);
  REQUIRE(events.ok());
  out += "events " + std::to_string(events.value().size()) + "\n";
  return out;
}

}  // namespace

TEST_CASE("an LMDB ledger migrated into PostgreSQL reads the same there", "[ledger][postgres]") {
  Lmdb lmdb;
  const auto policy = fixed_policy({"anthropic", "openai"}, 1000, 5000);
  {
    auto l = lmdb.open(policy);
    const auto r1 = l->reserve("a1", "anthropic", 900, "r1", kNov15).value();
    REQUIRE(l->commit(r1.reservation_id, 850, 0, 0.01, kNov15).ok());  // fires alerts
    REQUIRE(l->reserve("a2", "openai", 300, "r2", kNov15).value().reserved());  // left open
    SetLimitRequest limit = limit_request("a2", "openai", 2000);
    REQUIRE(l->set_limit(limit).ok());
  }
  Postgres pg;
  const auto report = tollgate::tools::migrate_ledger(lmdb.dir(), pg.schema().uri, pg.schema().name);
  INFO((report.ok() ? std::string() : report.error().message));
  REQUIRE(report.ok());
  CHECK(report->reservations == 1);
  CHECK(report->rows > 0);
  // Both charge the leftover reservation at their next start.
  auto from_lmdb = lmdb.open(policy);
  auto from_pg = pg.open(policy, kNov15, {}, "gw-1");
  CHECK(from_pg->report().recovered_tokens == 300);
  CHECK(portrait(*from_pg) == portrait(*from_lmdb));
  // A second migration finds rows and changes nothing.
  from_lmdb.reset();
  const auto again = tollgate::tools::migrate_ledger(lmdb.dir(), pg.schema().uri, pg.schema().name);
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message, Catch::Contains("already has rows"));
}
