// A degraded ledger: a failed write refuses later writes until a probe
// write succeeds, and settlements that meet it are kept and applied once,
// in order, after it recovers (ledger.h). Faults are injected through the
// suite's write_fault; every case runs against every ledger backend
// (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <deque>
#include <initializer_list>
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

// write_fault script: each write (probes included) takes the next code;
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

// What on_late_settlement reported (the ledger's thread), read by the test.
struct LateLog {
  std::mutex mu;
  std::vector<LateSettlement> settled;
  std::vector<LateSettlement> copy() {
    std::lock_guard lock(mu);
    return settled;
  }
};

// A ledger whose writes fail from the commit of a 700-token reservation on
// (charging 150) keeps that commit, and closes; with space_returns, writes
// work again before it closes (no probe ran: the close tries one).
template <class Backend>
void close_with_a_kept_commit(Backend& backend, bool space_returns) {
  std::atomic<bool> broken{false};
  SuiteOptions o;
  o.write_fault = [&] { return broken.load() ? ENOSPC : 0; };
  auto l = backend.open(test_policy(10000, std::nullopt), kNov15, o);
  const uint64_t id = l->reserve("a1", "anthropic", 700, "x", kNov15)->reservation_id;
  broken = true;
  auto c = l->commit(id, 100, 50, 0, kNov15);
  REQUIRE(c.ok());
  CHECK(c->deferred);
  if (space_returns) broken = false;
}

}  // namespace

TEMPLATE_TEST_CASE("a failed commit degrades the ledger until a probe write succeeds", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  std::atomic<int> fail_next{0};
  SuiteOptions o;
  o.write_fault = [&] { return fail_next.exchange(0); };
  auto opened = backend.open(test_policy(10000, std::nullopt), kNov15, o);
  auto& l = *opened;
  REQUIRE(l.reserve("a1", "openai", 100, "x", kNov15)->reserved());

  fail_next = ENOSPC;
  auto failed = l.reserve("a1", "openai", 100, "y", kNov15);
  REQUIRE_FALSE(failed.ok());
  CHECK(l.degraded());
  CHECK_THAT(l.health().reason, Catch::Contains(backend.where()));
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

TEMPLATE_TEST_CASE("settlements refused by a degraded ledger are applied in order once after it recovers", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  FaultScript faults;
  LateLog late;
  SuiteOptions o;
  o.write_fault = [&] { return faults.next(); };
  o.on_late_settlement = [&](const LateSettlement& s) {
    std::lock_guard lock(late.mu);
    late.settled.push_back(s);
  };
  auto opened = backend.open(test_policy(1000, std::nullopt), kNov15, o);
  auto& l = *opened;
  const uint64_t r1 = l.reserve("a1", "openai", 400, "one", kNov15)->reservation_id;
  const uint64_t r2 = l.reserve("a1", "openai", 500, "two", kNov15)->reservation_id;
  const uint64_t r3 = l.reserve("a1", "openai", 50, "three", kNov15)->reservation_id;

  // The commit's own batch fails: the ledger degrades, the commit is kept.
  faults.set({ENOSPC});
  auto c1 = l.commit(r1, 200, 100, 0.25, kNov15);
  REQUIRE(c1.ok());
  CHECK(c1->deferred);
  CHECK_THAT(c1->deferred_reason, Catch::Contains(backend.where()));
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

TEMPLATE_TEST_CASE("settlements still kept when a degraded ledger closes are charged in full at the next open", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  close_with_a_kept_commit(backend, false);
  // Never applied, and never lost: the reservation is still there.
  auto l = backend.open(test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 700);
  CHECK(usage_of(*l, "a1", "anthropic").used == 700);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
}

TEMPLATE_TEST_CASE("settlements kept while degraded are applied when the ledger closes after space returned", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  close_with_a_kept_commit(backend, true);
  auto l = backend.open(test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 0);
  CHECK(usage_of(*l, "a1", "anthropic").used == 150);
}
