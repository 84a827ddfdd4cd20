// Alert levels against the current limits: exhaustion means empty, a ledger
// written by an older tollgated opens usable, and a limit change fires the
// levels it crosses and re-arms those it leaves (PROTOCOL.md section 4,
// issue 20 items 3 and 11).
#include <catch2/catch.hpp>

#include <lmdb.h>

#include <string>
#include <vector>

#include "daemon/ledger/lmdb/ledger_tables.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

BudgetPolicy test_policy(uint64_t agent_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, std::nullopt);
}

void charge(Ledger& l, const std::string& agent, const std::string& provider, uint64_t tokens) {
  auto r = l.reserve(agent, provider, tokens, "x", kNov15);
  REQUIRE(r->reserved());
  REQUIRE(l.commit(r->reservation_id, tokens, 0, 0, kNov15).ok());
}

std::vector<AlertLevel> levels(const std::vector<Alert>& alerts) {
  std::vector<AlertLevel> out;
  for (const auto& a : alerts) out.push_back(a.level);
  return out;
}

// Writes an `exhausted` mark for (period, agent, provider) straight into the
// ledger's alerts_fired table, as tollgated before this rule left one when a
// single reservation did not fit.
void mark_exhausted_the_old_way(const std::string& dir, const std::string& agent,
                                const std::string& provider) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0640) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi;
  REQUIRE(mdb_dbi_open(txn, "alerts_fired", MDB_CREATE, &dbi) == 0);
  std::string key = detail::fired_key("2024-11", agent, provider, AlertLevel::kExhausted);
  int64_t at = kNov15;
  MDB_val k{key.size(), key.data()};
  MDB_val v{sizeof at, &at};
  REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

TEST_CASE("a ledger marked exhausted by the old rule opens usable and fires exhausted again when empty") {
  TempDir dir;
  {
    auto l = open_ledger(dir.path, test_policy(5000));
    charge(*l, "imperium", "anthropic", 1938);
  }
  mark_exhausted_the_old_way(dir.path, "imperium", "anthropic");
  auto l = open_ledger(dir.path, test_policy(5000));
  auto u = l->usage("imperium", "2024-11").value()["anthropic"];
  CHECK_FALSE(u.exhausted);
  CHECK(u.level == AgentLevel::kNormal);
  auto y = l->reserve("imperium", "anthropic", 3000, "y", kNov15);
  REQUIRE(y->reserved());
  REQUIRE(l->commit(y->reservation_id, 3000, 0, 0, kNov15).ok());
  // The mark was re-armed: spending to the end fires exhausted once more.
  auto r = l->reserve("imperium", "anthropic", 62, "z", kNov15);
  REQUIRE(r->reserved());
  auto c = l->commit(r->reservation_id, 62, 0, 0, kNov15);
  REQUIRE(c.ok());
  CHECK(levels(c->alerts) == std::vector<AlertLevel>{AlertLevel::kExhausted});
}

TEST_CASE("a limit lowered below usage fires the levels it crosses once") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(10000));
  charge(*l, "imperium", "anthropic", 1203);
  l->set_policy(test_policy(1000));
  auto fired = l->reevaluate_levels(kNov15 + 1);
  REQUIRE(fired.ok());
  CHECK(levels(*fired) == std::vector<AlertLevel>{AlertLevel::kWarning, AlertLevel::kCritical,
                                                  AlertLevel::kEmergency, AlertLevel::kExhausted});
  // openai (no usage row, or 0 used) fires nothing.
  for (const auto& a : *fired) CHECK(a.provider == "anthropic");
  CHECK(l->reevaluate_levels(kNov15 + 2)->empty());  // edge-triggered
  CHECK(l->alerts(100, std::nullopt, std::string("imperium"))->size() == 4);
}

TEST_CASE("a limit raised above usage re-arms the levels no longer reached") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(1000));
  charge(*l, "imperium", "anthropic", 850);  // warning fired at 85%
  l->set_policy(test_policy(2000));          // 42.5%
  CHECK(l->reevaluate_levels(kNov15 + 1)->empty());
  charge(*l, "imperium", "anthropic", 800);  // 82.5% of 2000: warning again
  auto alerts = l->alerts(100, std::nullopt, std::string("imperium")).value();
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].level == AlertLevel::kWarning);
  CHECK(alerts[1].level == AlertLevel::kWarning);
}

TEST_CASE("a budget with a limit of zero never fires an alert") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(1000));
  charge(*l, "imperium", "anthropic", 100);
  l->set_policy(test_policy(0));  // the provider removed by a reload
  CHECK(l->reevaluate_levels(kNov15 + 1)->empty());
  CHECK(l->alerts(100, std::nullopt, std::nullopt)->empty());
}
