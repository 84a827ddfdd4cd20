// The idempotency table in the ledger (ledger.h): the expiry sweep works in
// bounded steps. Real LMDB in a temporary directory, fake clock.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

BudgetPolicy test_policy(uint64_t agent_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, std::nullopt);
}

}  // namespace

TEST_CASE("a prune over many rows is done in bounded steps that resume where the last stopped") {
  TempDir dir;
  LedgerOptions o;
  o.dir = dir.path;
  o.prune_rows_per_step = 100;
  auto l = open_ledger(o, test_policy(10000));
  // 300 rows, every sixth one still live.
  uint64_t expired = 0;
  for (int i = 0; i < 300; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%03d", i);
    const bool live = i % 6 == 0;
    if (!live) ++expired;
    REQUIRE(l->idempotency_put("imperium", key, "reply", live ? kNov15 + kDayMs : kNov15 + 1000).ok());
  }
  const int64_t now = kNov15 + 2000;
  uint64_t deleted = 0;
  int steps = 0;
  for (bool swept = false; !swept; ++steps) {
    REQUIRE(steps < 10);
    auto step = l->prune(now);
    REQUIRE(step.ok());
    CHECK(step->scanned <= 100);
    CHECK(step->deleted <= step->scanned);
    deleted += step->deleted;
    swept = step->swept;
  }
  CHECK(steps == 3);
  CHECK(deleted == expired);
  CHECK(l->idempotency_get("imperium", "k000", now)->has_value());
  CHECK(l->idempotency_get("imperium", "k294", now)->has_value());
  CHECK_FALSE(l->idempotency_get("imperium", "k001", kNov15)->has_value());
  // The next round starts at the beginning and finds only the live rows.
  auto again = l->prune(now);
  CHECK(again->scanned == 50);
  CHECK(again->deleted == 0);
  CHECK(again->swept);
}
