// The ledger log: every reset, rollover and crash recovery is kept durably
// (ledger_log) and read back newest first for the `ledger_events` op.
#include <catch2/catch.hpp>
#include <lmdb.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr int64_t kReopen = kDec1 + 100;

BudgetPolicy test_policy() { return fixed_policy({"anthropic", "openai"}, 10000, 50000); }

std::vector<LedgerRecord> log_of(const Ledger& l, size_t limit = 100,
                                 std::optional<int64_t> since_ms = std::nullopt) {
  auto records = l.ledger_events(limit, since_ms);
  REQUIRE(records.ok());
  return std::move(records.value());
}

// November: 500 anthropic tokens charged to a1, then a reset of a1, then a
// reservation of 1200 openai tokens that a crash leaves behind. The ledger
// is closed without committing it; the caller reopens in December.
void november_then_crash(const std::string& dir) {
  auto l = open_ledger(dir, test_policy(), kNov15);
  auto r = l->reserve("a1", "anthropic", 800, "charged", kNov15 + 1);
  REQUIRE(r->reserved());
  REQUIRE(l->commit(r->reservation_id, 400, 100, 0.01, kNov15 + 1).ok());
  REQUIRE(l->reset("a1", std::nullopt, kNov15 + 2).ok());
  REQUIRE(l->reserve("a1", "openai", 1200, "left open", kNov15 + 3)->reserved());
}

void check_recovered(const LedgerRecord& rec) {
  CHECK(rec.at_ms == kReopen);
  const auto* c = std::get_if<RecoveryChange>(&rec.change);
  REQUIRE(c != nullptr);
  CHECK(c->tokens == 1200);
  REQUIRE(c->charges.size() == 1);
  CHECK(c->charges[0].agent == "a1");
  CHECK(c->charges[0].provider == "openai");
  CHECK(c->charges[0].period == "2024-11");
  CHECK(c->charges[0].tokens == 1200);
  CHECK(c->charges[0].reservations == 1);
}

void check_rollover(const LedgerRecord& rec) {
  CHECK(rec.at_ms == kReopen);
  const auto* r = std::get_if<Rollover>(&rec.change);
  REQUIRE(r != nullptr);
  CHECK(r->from == "2024-11");
  CHECK(r->to == "2024-12");
}

void check_reset(const LedgerRecord& rec) {
  CHECK(rec.at_ms == kNov15 + 2);
  const auto* r = std::get_if<ResetChange>(&rec.change);
  REQUIRE(r != nullptr);
  CHECK(r->agent == "a1");
  CHECK(r->period == "2024-11");
  CHECK(r->cleared == std::map<std::string, uint64_t>{{"anthropic", 500}, {"openai", 0}});
}

}  // namespace

TEST_CASE("the ledger log keeps resets rollovers and crash recoveries newest first") {
  TempDir dir;
  november_then_crash(dir.path);
  auto l = open_ledger(dir.path, test_policy(), kReopen);
  REQUIRE(l->report().recovered_tokens == 1200);
  CHECK(l->report().at_ms == kReopen);

  const auto records = log_of(*l);
  REQUIRE(records.size() == 3);
  // Recovery runs after the rollover it started: same time, later sequence.
  check_recovered(records[0]);
  check_rollover(records[1]);
  check_reset(records[2]);
  CHECK(records[0].log_seq > records[1].log_seq);
  CHECK(records[1].log_seq > records[2].log_seq);
}

TEST_CASE("the ledger log honours limit and an inclusive since_ms") {
  TempDir dir;
  november_then_crash(dir.path);
  auto l = open_ledger(dir.path, test_policy(), kReopen);

  const auto newest = log_of(*l, 1);
  REQUIRE(newest.size() == 1);
  check_recovered(newest[0]);
  CHECK(log_of(*l, 2).size() == 2);

  CHECK(log_of(*l, 100, kReopen).size() == 2);
  CHECK(log_of(*l, 100, kReopen + 1).empty());
  const auto with_reset = log_of(*l, 100, kNov15 + 2);
  REQUIRE(with_reset.size() == 3);
  check_reset(with_reset[2]);
  CHECK(log_of(*l, 100, kNov15 + 3).size() == 2);
  CHECK(log_of(*l, 1, kNov15).size() == 1);
}

TEST_CASE("the ledger log survives reopening and a quiet reopen adds nothing") {
  TempDir dir;
  november_then_crash(dir.path);
  { open_ledger(dir.path, test_policy(), kReopen); }
  auto l = open_ledger(dir.path, test_policy(), kReopen + 1000);
  CHECK(l->report().charges.empty());
  CHECK_FALSE(l->report().rollover.has_value());
  const auto records = log_of(*l);
  REQUIRE(records.size() == 3);
  check_recovered(records[0]);
  check_rollover(records[1]);
  check_reset(records[2]);
}

TEST_CASE("a rollover started by a budget operation is logged once") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(), kNov15);
  CHECK(log_of(*l).empty());
  auto r = l->reserve("a1", "anthropic", 100, "dec", kDec1 + 5);
  REQUIRE(r->rollover.has_value());
  REQUIRE(l->commit(r->reservation_id, 50, 50, 0, kDec1 + 6).ok());
  REQUIRE(l->reserve("a1", "anthropic", 100, "dec2", kDec1 + 7)->reserved());
  const auto records = log_of(*l);
  REQUIRE(records.size() == 1);
  CHECK(records[0].at_ms == kDec1 + 5);
  const auto* rollover = std::get_if<Rollover>(&records[0].change);
  REQUIRE(rollover != nullptr);
  CHECK(rollover->from == "2024-11");
  CHECK(rollover->to == "2024-12");
}

TEST_CASE("a ledger made before the ledger log existed opens and starts logging") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(), kNov15); }
  {
    // Remove the table, as a ledger written by an older tollgated lacks it.
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 16);
    REQUIRE(mdb_env_open(env, dir.path.c_str(), 0, 0640) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi log = 0;
    REQUIRE(mdb_dbi_open(txn, "ledger_log", 0, &log) == 0);
    REQUIRE(mdb_drop(txn, log, 1) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  auto l = open_ledger(dir.path, test_policy(), kNov15 + 1);
  REQUIRE(l->reset("a1", std::string("openai"), kNov15 + 2).ok());
  const auto records = log_of(*l);
  REQUIRE(records.size() == 1);
  const auto* reset = std::get_if<ResetChange>(&records[0].change);
  REQUIRE(reset != nullptr);
  CHECK(reset->cleared == std::map<std::string, uint64_t>{{"openai", 0}});
}
