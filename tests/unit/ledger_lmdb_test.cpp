// What only the LMDB ledger has: its data directory, its schema, an LMDB
// panic, and records written by older tollgateds straight into its tables.
// (Behaviour every backend shares is the conformance suite's, the other
// ledger_*_test.cpp files; map growth is ledger_growth_test.cpp's.)
#include <catch2/catch.hpp>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

BudgetPolicy test_policy(uint64_t agent_limit, std::optional<uint64_t> global_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, global_limit);
}

void charge(Ledger& l, const std::string& agent, const std::string& provider, uint64_t tokens) {
  auto r = l.reserve(agent, provider, tokens, "x", kNov15);
  REQUIRE(r->reserved());
  REQUIRE(l.commit(r->reservation_id, tokens, 0, 0, kNov15).ok());
}

// Runs edit(txn, table) in one write transaction on `table` of the closed
// ledger in dir (created when missing), straight through LMDB: what an
// older tollgated, or a damaged file, leaves behind.
template <class Edit>
void edit_table(const std::string& dir, const char* table, Edit edit) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 32) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0640) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, table, MDB_CREATE, &dbi) == 0);
  edit(txn, dbi);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

// Puts key -> value into `table`.
void put_raw(const std::string& dir, const char* table, std::string key, std::string value) {
  edit_table(dir, table, [&](MDB_txn* txn, MDB_dbi dbi) {
    MDB_val k{key.size(), key.data()};
    MDB_val v{value.size(), value.data()};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  });
}

std::vector<AlertLevel> levels(const std::vector<Alert>& alerts) {
  std::vector<AlertLevel> out;
  for (const auto& a : alerts) out.push_back(a.level);
  return out;
}

// Puts a reservation record as a tollgated from before full_cost_usd wrote
// it (msgpack [agent, provider, period, request_id, amount, created_ms])
// into the closed ledger in dir.
void put_old_reservation(const std::string& dir, uint64_t id, const std::string& agent,
                         uint16_t amount) {
  std::string v;
  v.push_back(static_cast<char>(0x96));  // array of 6
  for (const std::string& s : {agent, std::string("anthropic"), std::string("2024-11"),
                               std::string("old-request")}) {
    v.push_back(static_cast<char>(0xa0 | s.size()));  // fixstr
    v += s;
  }
  v.push_back(static_cast<char>(0xcd));  // uint16
  v.push_back(static_cast<char>(amount >> 8));
  v.push_back(static_cast<char>(amount & 0xff));
  v.push_back(0);  // created_ms 0 (positive fixint)
  std::string k;
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((id >> shift) & 0xff));
  put_raw(dir, "reservations", std::move(k), std::move(v));
}

// Writes an `exhausted` mark for (period, agent, provider) straight into the
// ledger's alerts_fired table, as tollgated before this rule left one when a
// single reservation did not fit.
void mark_exhausted_the_old_way(const std::string& dir, const std::string& agent,
                                const std::string& provider) {
  const int64_t at = kNov15;
  put_raw(dir, "alerts_fired", detail::fired_key("2024-11", agent, provider, AlertLevel::kExhausted),
          std::string(reinterpret_cast<const char*>(&at), sizeof at));
}

}  // namespace

TEST_CASE("a reservation recorded before its cost was kept is recovered at cost 0") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(10000, std::nullopt)); }
  put_old_reservation(dir.path, 1000, "old", 400);
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 400);
  const auto old = usage_of(*l, "old", "anthropic");
  CHECK(old.used == 400);
  CHECK(old.reserved == 0);
  CHECK(old.cost_usd == 0.0);
}

TEST_CASE("a usage row of 40 bytes from before dollar budgets reads with nothing held in dollars") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(10000, std::nullopt)); }
  // used 1234, reserved 0, requests 7, cleared 0, cost 0.5: the old layout.
  struct OldRow {
    uint64_t used, reserved, requests, cleared;
    double cost_usd;
  } old{1234, 0, 7, 0, 0.5};
  static_assert(sizeof(OldRow) == 40);
  put_raw(dir.path, "usage", detail::usage_key("2024-11", "old", "anthropic"),
          std::string(reinterpret_cast<const char*>(&old), sizeof old));
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  const auto u = usage_of(*l, "old", "anthropic");
  CHECK(u.used == 1234);
  CHECK(u.requests == 7);
  CHECK(u.cost_usd == 0.5);
  CHECK(u.reserved_usd == 0.0);
  // Written back in the new layout by the next charge.
  auto r = l->reserve("old", "anthropic", 10, "next", kNov15);
  REQUIRE(r->reserved());
  REQUIRE(l->commit(r->reservation_id, 10, 0, 0.25, kNov15).ok());
  CHECK(usage_of(*l, "old", "anthropic").cost_usd == 0.75);
}

TEST_CASE("a ledger whose schema is newer than the code refuses to open") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(1000, std::nullopt)); }
  const uint32_t newer = kSchemaVersion + 1;
  put_raw(dir.path, "meta", "schema", std::string(reinterpret_cast<const char*>(&newer), sizeof newer));
  LmdbLedgerOptions o;
  o.dir = dir.path;
  auto l = LmdbLedger::open(o, test_policy(1000, std::nullopt), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains("ledger schema " + std::to_string(kSchemaVersion + 1) +
                                                " in " + dir.path + " is newer than this tollgated"));
  CHECK_THAT(l.error().message, Catch::Contains("upgrade tollgated"));
}

TEST_CASE("a data directory that cannot be created fails open with an error naming the path") {
  TempDir dir;
  const std::string file = dir.path + "/not-a-dir";
  std::ofstream(file) << "x";
  LmdbLedgerOptions o;
  o.dir = file + "/ledger";
  auto l = LmdbLedger::open(o, test_policy(1000, std::nullopt), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains(o.dir));
}

TEST_CASE("an LMDB panic seen by the probe write of a degraded ledger exits the process") {
  TempDir dir;
  // The process exits: run the ledger in a child and look at how it ended.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::atomic<int> fail_next{0};
    LmdbLedgerOptions o;
    o.dir = dir.path;
    o.probe_interval = std::chrono::hours(1);  // only the explicit probe below
    o.commit_fault = [&] { return fail_next.exchange(0); };
    auto opened = LmdbLedger::open(o, test_policy(10000, std::nullopt), kNov15);
    if (!opened.ok()) _exit(10);
    Ledger& l = *opened.value();
    fail_next = EIO;
    if (l.reserve("a1", "openai", 100, "x", kNov15).ok() || !l.degraded()) _exit(11);
    fail_next = MDB_PANIC;
    (void)l.probe();
    _exit(12);  // still running: the panic was taken for an ordinary failure
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == EXIT_FAILURE);
}

TEST_CASE("a ledger marked exhausted by the old rule opens usable and fires exhausted again when empty") {
  TempDir dir;
  {
    auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
    charge(*l, "imperium", "anthropic", 1938);
  }
  mark_exhausted_the_old_way(dir.path, "imperium", "anthropic");
  auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
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

TEST_CASE("a ledger made before the ledger log existed opens and starts logging") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(10000, 50000), kNov15); }
  // Remove the table, as a ledger written by an older tollgated lacks it.
  edit_table(dir.path, "ledger_log",
             [](MDB_txn* txn, MDB_dbi log) { REQUIRE(mdb_drop(txn, log, 1) == 0); });
  auto l = open_ledger(dir.path, test_policy(10000, 50000), kNov15 + 1);
  REQUIRE(l->reset("a1", std::string("openai"), kNov15 + 2).ok());
  auto read = l->ledger_events(100, std::nullopt);
  REQUIRE(read.ok());
  const auto& records = read.value();
  REQUIRE(records.size() == 1);
  const auto* reset = std::get_if<ResetChange>(&records[0].change);
  REQUIRE(reset != nullptr);
  CHECK(reset->cleared == std::map<std::string, uint64_t>{{"openai", 0}});
}

TEST_CASE("a stored reply written by an older tollgated reads as done without a fingerprint") {
  TempDir dir;
  { auto l = open_ledger(dir.path, test_policy(10000, std::nullopt)); }
  // [expiry_ms, reply] in msgpack: what tollgated wrote before pending markers.
  const uint64_t expiry = static_cast<uint64_t>(kNov15 + 1000);
  std::string value = "\x92\xcf";
  for (int shift = 56; shift >= 0; shift -= 8) value.push_back(static_cast<char>((expiry >> shift) & 0xff));
  value += "\xa3old";
  put_raw(dir.path, "idempotency", std::string("imperium") + '\0' + "legacy", std::move(value));
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  auto read = l->idempotency_record("imperium", "legacy", kNov15);
  REQUIRE(read.ok());
  const auto& record = read.value();
  REQUIRE(record.has_value());
  CHECK(record->state == IdempotencyState::kDone);
  CHECK(record->fingerprint.empty());
  CHECK(record->reply == "old");
  CHECK(record->expiry_ms == kNov15 + 1000);
  CHECK_FALSE(l->idempotency_record("imperium", "legacy", kNov15 + 1000)->has_value());
}

TEST_CASE("a budget snapshot is reused only until the next write or a new policy") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  auto agent_budget = [&] {
    auto snap = l->snapshot("a1", kNov15);
    REQUIRE(snap.ok());
    return snap->providers.at("anthropic").agent;
  };
  CHECK(agent_budget().used == 0);
  charge(*l, "a1", "anthropic", 100);
  CHECK(agent_budget().used == 100);  // the charge's write is seen at once
  CHECK(agent_budget().used == 100);  // and again, with nothing written since
  auto held = l->reserve("a1", "anthropic", 50, "x", kNov15);
  REQUIRE(held->reserved());
  CHECK(agent_budget().reserved == 50);
  l->set_policy(test_policy(20000, std::nullopt));
  CHECK(agent_budget().limit == 20000u);  // a new policy with no write since
  // Another agent's snapshot is its own.
  charge(*l, "a2", "anthropic", 7);
  auto other = l->snapshot("a2", kNov15);
  REQUIRE(other.ok());
  CHECK(other->providers.at("anthropic").agent.used == 7);
  CHECK(agent_budget().used == 100);
}
