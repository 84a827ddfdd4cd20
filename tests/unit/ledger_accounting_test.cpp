// The ledger's two-phase accounting on a real LMDB environment in a
// temporary directory, with a fake clock (now_ms values).
#include <catch2/catch.hpp>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

BudgetPolicy test_policy(uint64_t agent_limit, std::optional<uint64_t> global_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, global_limit);
}

BudgetUsage usage_of(const Ledger& l, const std::string& scope, const std::string& provider) {
  auto u = l.usage(scope, "2024-11");
  REQUIRE(u.ok());
  return u.value()[provider];
}

}  // namespace

TEST_CASE("a reservation that fits is held and a commit charges what the provider reported") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  auto r = l->reserve("imperium", "anthropic", 3000, "req-1", kNov15);
  REQUIRE(r.ok());
  REQUIRE(r->reserved());
  CHECK(r->period == "2024-11");
  BudgetUsage a = usage_of(*l, "imperium", "anthropic");
  CHECK(a.reserved == 3000);
  CHECK(a.used == 0);
  CHECK(a.remaining == 7000);

  auto c = l->commit(r->reservation_id, 1200, 300, 0.25, kNov15 + 10);
  REQUIRE(c.ok());
  CHECK(c->charged == 1500);
  a = usage_of(*l, "imperium", "anthropic");
  CHECK(a.used == 1500);
  CHECK(a.reserved == 0);
  CHECK(a.requests == 1);
  CHECK(a.cost_usd == Approx(0.25));
  CHECK(a.remaining == 8500);
  CHECK(a.percentage == Approx(15.0));
  const BudgetUsage g = usage_of(*l, "*", "anthropic");
  CHECK(g.used == 1500);
  CHECK_FALSE(g.limit.has_value());
  CHECK(l->agents("2024-11").value() == std::vector<std::string>{"imperium"});
}

TEST_CASE("a reservation that does not fit is refused for that call only and marks nothing exhausted") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
  auto first = l->reserve("guardian", "openai", 4000, "a", kNov15);
  REQUIRE(first->reserved());
  // Only the first call's reservation stands in the way: refused without a
  // wait, and said so.
  auto second = l->reserve("guardian", "openai", 1001, "b", kNov15);
  REQUIRE(second.ok());
  CHECK(second->status == ReserveStatus::kAgentDoesNotFit);
  CHECK(second->refused_by == RefusedBy::kInFlight);
  CHECK(second->needed == 1001);
  CHECK(second->left == 5000);
  CHECK(second->in_flight == 4000);
  CHECK_FALSE(usage_of(*l, "guardian", "openai").exhausted);
  CHECK(l->alerts(100, std::nullopt, std::nullopt)->empty());
  // The next, smaller call fits.
  CHECK(l->reserve("guardian", "openai", 1000, "d", kNov15)->reserved());
  CHECK(usage_of(*l, "guardian", "openai").reserved == 5000);
}

TEST_CASE("a reservation larger than what is left is refused while a smaller one still fits") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
  auto first = l->reserve("guardian", "openai", 4000, "a", kNov15);
  REQUIRE(l->commit(first->reservation_id, 3000, 790, 0, kNov15).ok());
  auto big = l->reserve("guardian", "openai", 1300, "b", kNov15);
  CHECK(big->status == ReserveStatus::kAgentDoesNotFit);
  CHECK(big->refused_by == RefusedBy::kLimit);
  CHECK(big->left == 1210);
  CHECK(big->limit == 5000);
  CHECK_FALSE(usage_of(*l, "guardian", "openai").exhausted);
  CHECK(l->reserve("guardian", "openai", 1210, "c", kNov15)->reserved());
}

TEST_CASE("a reservation that does not fit the global budget is refused") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, 6000));
  auto r1 = l->reserve("a1", "openai", 4000, "x", kNov15);
  REQUIRE(l->commit(r1->reservation_id, 4000, 0, 0, kNov15).ok());
  auto r = l->reserve("a2", "openai", 2500, "y", kNov15);
  CHECK(r->status == ReserveStatus::kGlobalDoesNotFit);
  CHECK(r->refused_by == RefusedBy::kLimit);
  CHECK(r->left == 2000);
  CHECK_FALSE(usage_of(*l, "*", "openai").exhausted);
  CHECK_FALSE(usage_of(*l, "a2", "openai").exhausted);
  CHECK(l->reserve("a2", "openai", 2000, "z", kNov15)->reserved());
}

TEST_CASE("release frees the reserved tokens and a second release is refused") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, 8000));
  auto r = l->reserve("a1", "anthropic", 5000, "x", kNov15);
  REQUIRE(r->reserved());
  auto rel = l->release(r->reservation_id);
  REQUIRE(rel.ok());
  CHECK(rel->released == 5000);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
  CHECK(usage_of(*l, "*", "anthropic").reserved == 0);
  CHECK_FALSE(l->release(r->reservation_id).ok());
  CHECK_FALSE(l->commit(r->reservation_id, 1, 1, 0, kNov15).ok());
}

TEST_CASE("a failing operation does not poison the other operations of its batch") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::promise<void> last;
  l->commit_async(CommitRequest{999, 1, 1, 0, kNov15}, [&](Result<CommitOutcome> r) {
    (r.ok() ? ok : failed)++;
  });
  l->reserve_async(reserve_request("a1", "openai", 100, "x", kNov15),
                   [&](Result<ReserveOutcome> r) { (r.ok() && r->reserved() ? ok : failed)++; });
  l->reserve_async(reserve_request("a1", "openai", 9000, "y", kNov15),
                   [&](Result<ReserveOutcome> r) { (r.ok() && !r->reserved() ? ok : failed)++; });
  l->release_async(12345, [&](Result<ReleaseOutcome> r) {
    (r.ok() ? ok : failed)++;
    last.set_value();
  });
  last.get_future().wait();
  CHECK(ok == 2);
  CHECK(failed == 2);
  CHECK(usage_of(*l, "a1", "openai").reserved == 100);
}

TEST_CASE("a charge above the reservation is charged in full") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(5000, std::nullopt));
  auto r = l->reserve("a1", "anthropic", 100, "big", kNov15);
  auto c = l->commit(r->reservation_id, 150, 50, 0, kNov15);
  REQUIRE(c.ok());
  CHECK(c->charged == 200);
  CHECK(usage_of(*l, "a1", "anthropic").used == 200);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
}

TEST_CASE("reservations left open are charged in full when the ledger is reopened") {
  TempDir dir;
  uint64_t id = 0;
  {
    auto l = open_ledger(dir.path, test_policy(10000, 20000));
    id = l->reserve("a1", "anthropic", 3000, "x", kNov15)->reservation_id;
    REQUIRE(l->reserve("a1", "anthropic", 500, "y", kNov15)->reserved());
    REQUIRE(l->reserve("a2", "openai", 700, "z", kNov15)->reserved());
    REQUIRE(l->commit(id, 10, 10, 0, kNov15).ok());
    CHECK(l->report().charges.empty());
  }
  auto l = open_ledger(dir.path, test_policy(10000, 20000));
  const OpenReport& rep = l->report();
  CHECK(rep.recovered_tokens == 1200);
  REQUIRE(rep.charges.size() == 2);
  CHECK(usage_of(*l, "a1", "anthropic").used == 520);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
  CHECK(usage_of(*l, "a2", "openai").used == 700);
  CHECK(usage_of(*l, "*", "anthropic").used == 520);
  CHECK(usage_of(*l, "*", "anthropic").reserved == 0);
  // Nothing is charged twice on the next open.
  l.reset();
  auto again = open_ledger(dir.path, test_policy(10000, 20000));
  CHECK(again->report().recovered_tokens == 0);
  CHECK(usage_of(*again, "a1", "anthropic").used == 520);
}

namespace {

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
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 16);
  REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0640) == 0);
  MDB_txn* txn = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  MDB_dbi dbi = 0;
  REQUIRE(mdb_dbi_open(txn, "reservations", 0, &dbi) == 0);
  MDB_val key{k.size(), k.data()};
  MDB_val val{v.size(), v.data()};
  REQUIRE(mdb_put(txn, dbi, &key, &val, 0) == 0);
  REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

TEST_CASE("recovery charges each leftover reservation its cost at full charge") {
  TempDir dir;
  {
    auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
    auto first = reserve_request("a1", "anthropic", 3000, "x", kNov15);
    first.full_cost_usd = 0.25;
    REQUIRE(l->reserve(first)->reserved());
    auto second = reserve_request("a1", "anthropic", 500, "y", kNov15);
    second.full_cost_usd = 0.5;
    REQUIRE(l->reserve(second)->reserved());
    // A settled reservation's cost is the commit's, not its full cost.
    auto settled = reserve_request("a1", "anthropic", 100, "z", kNov15);
    settled.full_cost_usd = 9.0;
    auto r = l->reserve(settled);
    REQUIRE(l->commit(r->reservation_id, 10, 10, 0.01, kNov15).ok());
  }
  put_old_reservation(dir.path, 1000, "old", 400);
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 3900);
  const auto a1 = usage_of(*l, "a1", "anthropic");
  CHECK(a1.used == 3520);
  CHECK(a1.reserved == 0);
  CHECK(a1.cost_usd == Approx(0.76));
  CHECK(usage_of(*l, "*", "anthropic").cost_usd == Approx(0.76));
  // A record from before the cost was kept recovers its tokens at cost 0.
  const auto old = usage_of(*l, "old", "anthropic");
  CHECK(old.used == 400);
  CHECK(old.cost_usd == 0.0);
  auto history = l->history("a1", 1, kNov15);
  REQUIRE(history.ok());
  CHECK(history->front().cost_usd == Approx(0.76));
}

TEST_CASE("reset clears the agent usage and lowers the global usage by the same amount") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(10000, 50000));
  for (const char* agent : {"a1", "a2"}) {
    for (const char* provider : {"anthropic", "openai"}) {
      auto r = l->reserve(agent, provider, 5000, "x", kNov15);
      REQUIRE(l->commit(r->reservation_id, 3000, 1000, 0.5, kNov15).ok());
    }
  }
  auto reset = l->reset("a1", std::nullopt, kNov15 + 1000);
  REQUIRE(reset.ok());
  CHECK(reset->period == "2024-11");
  CHECK(reset->cleared == std::map<std::string, uint64_t>{{"anthropic", 4000}, {"openai", 4000}});
  const BudgetUsage a = usage_of(*l, "a1", "anthropic");
  CHECK(a.used == 0);
  CHECK(a.requests == 1);  // history keeps requests and cost
  CHECK(a.cleared == 4000);
  CHECK(usage_of(*l, "*", "anthropic").used == 4000);
  CHECK(usage_of(*l, "a2", "anthropic").used == 4000);
  auto audit = l->resets("a1");
  REQUIRE(audit.ok());
  CHECK(audit->size() == 2);
  auto hist = l->history("a1", 1, kNov15);
  CHECK(hist->at(0).providers["openai"].cleared == 4000);

  auto one = l->reset("a2", std::string("openai"), kNov15 + 2000);
  CHECK(one->cleared == std::map<std::string, uint64_t>{{"openai", 4000}});
  CHECK(usage_of(*l, "a2", "anthropic").used == 4000);
  CHECK(usage_of(*l, "*", "openai").used == 0);
}

TEST_CASE("idempotency entries are returned until they expire and prune deletes them") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  REQUIRE(l->idempotency_put("a1", "k1", std::string("reply\0bytes", 11), kNov15 + 1000).ok());
  REQUIRE(l->idempotency_put("a1", "k2", "other", kNov15 + 5000).ok());
  auto hit = l->idempotency_get("a1", "k1", kNov15);
  REQUIRE(hit.ok());
  REQUIRE(hit->has_value());
  CHECK(**hit == std::string("reply\0bytes", 11));
  CHECK_FALSE(l->idempotency_get("a2", "k1", kNov15)->has_value());
  CHECK_FALSE(l->idempotency_get("a1", "k1", kNov15 + 1000)->has_value());
  CHECK(l->prune(kNov15 + 2000)->deleted == 1);
  CHECK(l->idempotency_get("a1", "k2", kNov15 + 2000)->has_value());
  CHECK(l->prune(kNov15 + 2000)->deleted == 0);
}

TEST_CASE("reservations count requests per provider per utc day") {
  TempDir dir;
  auto l = open_ledger(dir.path, test_policy(100000, std::nullopt));
  constexpr int64_t kDay = 86400000;
  for (int i = 0; i < 3; ++i) REQUIRE(l->reserve("a1", "openai", 10, "x", kNov15)->reserved());
  CHECK(l->reserve("a1", "openai", 10, "x", kNov15)->requests_today == 4);
  CHECK(l->count_request("openai", kNov15).value() == 5);
  CHECK(l->requests_today("openai", kNov15).value() == 5);
  CHECK(l->requests_today("anthropic", kNov15).value() == 0);
  CHECK(l->requests_today("openai", kNov15 + kDay).value() == 0);
  CHECK(l->reserve("a1", "openai", 10, "x", kNov15 + kDay)->requests_today == 1);
}

TEST_CASE("a ledger whose schema is newer than the code refuses to open") {
  TempDir dir;
  { open_ledger(dir.path, test_policy(1000, std::nullopt)); }
  {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 16);
    REQUIRE(mdb_env_open(env, dir.path.c_str(), 0, 0640) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta = 0;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    uint32_t newer = kSchemaVersion + 1;
    MDB_val k{6, const_cast<char*>("schema")};
    MDB_val v{sizeof newer, &newer};
    REQUIRE(mdb_put(txn, meta, &k, &v, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  LedgerOptions o;
  o.dir = dir.path;
  auto l = Ledger::open(o, test_policy(1000, std::nullopt), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains("ledger schema " + std::to_string(kSchemaVersion + 1) +
                                                " in " + dir.path + " is newer than this tollgated"));
  CHECK_THAT(l.error().message, Catch::Contains("upgrade tollgated"));
}

TEST_CASE("a data directory that cannot be created fails open with an error naming the path") {
  TempDir dir;
  const std::string file = dir.path + "/not-a-dir";
  std::ofstream(file) << "x";
  LedgerOptions o;
  o.dir = file + "/ledger";
  auto l = Ledger::open(o, test_policy(1000, std::nullopt), kNov15);
  REQUIRE_FALSE(l.ok());
  CHECK_THAT(l.error().message, Catch::Contains(o.dir));
}

TEST_CASE("a failed commit degrades the ledger until a probe write succeeds") {
  TempDir dir;
  std::atomic<int> fail_next{0};
  LedgerOptions o;
  o.dir = dir.path;
  o.probe_interval = std::chrono::hours(1);  // only explicit probes in this test
  o.commit_fault = [&] { return fail_next.exchange(0); };
  auto opened = open_ledger(o, test_policy(10000, std::nullopt));
  auto& l = *opened;
  REQUIRE(l.reserve("a1", "openai", 100, "x", kNov15)->reserved());

  fail_next = ENOSPC;
  auto failed = l.reserve("a1", "openai", 100, "y", kNov15);
  REQUIRE_FALSE(failed.ok());
  CHECK(l.degraded());
  CHECK_THAT(l.health().reason, Catch::Contains(dir.path));
  auto refused = l.reserve("a1", "openai", 100, "z", kNov15);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("degraded"));
  // Reads keep working and show nothing of the failed batch.
  CHECK(l.usage("a1", "2024-11").value()["openai"].reserved == 100);

  fail_next = EIO;
  CHECK_FALSE(l.probe().ok());
  CHECK(l.degraded());
  REQUIRE(l.probe().ok());
  CHECK_FALSE(l.degraded());
  CHECK(l.reserve("a1", "openai", 100, "w", kNov15)->reserved());
  CHECK(l.usage("a1", "2024-11").value()["openai"].reserved == 200);
}

TEST_CASE("an LMDB panic seen by the probe write of a degraded ledger exits the process") {
  TempDir dir;
  // The process exits: run the ledger in a child and look at how it ended.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::atomic<int> fail_next{0};
    LedgerOptions o;
    o.dir = dir.path;
    o.probe_interval = std::chrono::hours(1);  // only the explicit probe below
    o.commit_fault = [&] { return fail_next.exchange(0); };
    auto opened = Ledger::open(o, test_policy(10000, std::nullopt), kNov15);
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

namespace {

// commit_fault script: each commit (probes included) takes the next code;
// 0 once the script is empty.
struct FaultScript {
  std::mutex mu;
  std::deque<int> codes;
  int next() {
    std::lock_guard lock(mu);
    if (codes.empty()) return 0;
    const int code = codes.front();
    codes.pop_front();
    return code;
  }
  void set(std::initializer_list<int> list) {
    std::lock_guard lock(mu);
    codes.assign(list);
  }
};

// What on_late_settlement reported (writer thread), read by the test.
struct LateLog {
  std::mutex mu;
  std::vector<LateSettlement> settled;
  std::vector<LateSettlement> copy() {
    std::lock_guard lock(mu);
    return settled;
  }
};

}  // namespace

TEST_CASE("settlements refused by a degraded ledger are applied in order once after it recovers") {
  TempDir dir;
  FaultScript faults;
  LateLog late;
  LedgerOptions o;
  o.dir = dir.path;
  o.probe_interval = std::chrono::hours(1);  // only explicit probes in this test
  o.commit_fault = [&] { return faults.next(); };
  o.on_late_settlement = [&](const LateSettlement& s) {
    std::lock_guard lock(late.mu);
    late.settled.push_back(s);
  };
  auto opened = open_ledger(o, test_policy(1000, std::nullopt));
  auto& l = *opened;
  const uint64_t r1 = l.reserve("a1", "openai", 400, "one", kNov15)->reservation_id;
  const uint64_t r2 = l.reserve("a1", "openai", 500, "two", kNov15)->reservation_id;
  const uint64_t r3 = l.reserve("a1", "openai", 50, "three", kNov15)->reservation_id;

  // The commit's own batch fails: the ledger degrades, the commit is kept.
  faults.set({ENOSPC});
  auto c1 = l.commit(r1, 200, 100, 0.25, kNov15);
  REQUIRE(c1.ok());
  CHECK(c1->deferred);
  CHECK_THAT(c1->deferred_reason, Catch::Contains(dir.path));
  CHECK(l.degraded());
  // While degraded: settlements are kept, anything else is refused.
  auto c2 = l.commit(r2, 400, 100, 0.5, kNov15);
  REQUIRE(c2.ok());
  CHECK(c2->deferred);
  CHECK_THAT(c2->deferred_reason, Catch::Contains("degraded"));
  auto rel = l.release(r3);
  REQUIRE(rel.ok());
  CHECK(rel->deferred);
  CHECK_FALSE(l.reserve("a1", "openai", 10, "refused", kNov15).ok());
  CHECK(l.health().deferred_settlements == 3);
  CHECK(usage_of(l, "a1", "openai").reserved == 950);
  CHECK(usage_of(l, "a1", "openai").used == 0);

  // A probe that succeeds, then the batch of kept settlements fails: they
  // stay kept, nothing of them is written.
  faults.set({0, EIO});
  CHECK_FALSE(l.probe().ok());
  CHECK(l.degraded());
  CHECK(l.health().deferred_settlements == 3);
  CHECK(usage_of(l, "a1", "openai").used == 0);
  CHECK(late.copy().empty());

  // Recovery: applied in order, exactly once; reserved goes to 0 and used
  // is what the provider reported, not the reservations.
  REQUIRE(l.probe().ok());
  CHECK_FALSE(l.degraded());
  CHECK(l.health().deferred_settlements == 0);
  const auto a1 = usage_of(l, "a1", "openai");
  CHECK(a1.reserved == 0);
  CHECK(a1.used == 800);
  CHECK(a1.requests == 2);
  CHECK(a1.cost_usd == Approx(0.75));
  CHECK(usage_of(l, "*", "openai").reserved == 0);
  auto settled = late.copy();
  REQUIRE(settled.size() == 3);
  CHECK(settled[0].reservation_id == r1);
  REQUIRE(settled[0].commit);
  CHECK(settled[0].commit->charged == 300);
  CHECK(settled[1].reservation_id == r2);
  REQUIRE(settled[1].commit);
  // The second charge crosses 80% of 1000: its alert comes with it.
  REQUIRE(settled[1].commit->alerts.size() == 1);
  CHECK(settled[1].commit->alerts[0].level == AlertLevel::kWarning);
  CHECK(settled[2].reservation_id == r3);
  REQUIRE(settled[2].release);
  CHECK(settled[2].release->released == 50);
  CHECK(settled[2].error.empty());

  REQUIRE(l.probe().ok());
  CHECK(l.reserve("a1", "openai", 100, "after", kNov15)->reserved());
  CHECK(usage_of(l, "a1", "openai").used == 800);
  CHECK(late.copy().size() == 3);
}

TEST_CASE("settlements still kept when a degraded ledger closes are charged in full at the next open") {
  TempDir dir;
  std::atomic<bool> broken{false};
  {
    LedgerOptions o;
    o.dir = dir.path;
    o.probe_interval = std::chrono::hours(1);
    o.commit_fault = [&] { return broken.load() ? ENOSPC : 0; };
    auto l = open_ledger(o, test_policy(10000, std::nullopt));
    const uint64_t id = l->reserve("a1", "anthropic", 700, "x", kNov15)->reservation_id;
    broken = true;
    auto c = l->commit(id, 100, 50, 0, kNov15);
    REQUIRE(c.ok());
    CHECK(c->deferred);
  }
  // Never applied, and never lost: the reservation is still there.
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 700);
  CHECK(usage_of(*l, "a1", "anthropic").used == 700);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
}

TEST_CASE("settlements kept while degraded are applied when the ledger closes after space returned") {
  TempDir dir;
  std::atomic<bool> broken{false};
  {
    LedgerOptions o;
    o.dir = dir.path;
    o.probe_interval = std::chrono::hours(1);
    o.commit_fault = [&] { return broken.load() ? ENOSPC : 0; };
    auto l = open_ledger(o, test_policy(10000, std::nullopt));
    const uint64_t id = l->reserve("a1", "anthropic", 700, "x", kNov15)->reservation_id;
    broken = true;
    REQUIRE(l->commit(id, 100, 50, 0, kNov15)->deferred);
    broken = false;  // no probe ran yet: the close tries one
  }
  auto l = open_ledger(dir.path, test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 0);
  CHECK(usage_of(*l, "a1", "anthropic").used == 150);
}
