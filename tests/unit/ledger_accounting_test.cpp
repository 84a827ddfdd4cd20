// The ledger's two-phase accounting with a fake clock (now_ms values).
// Every case runs against every ledger backend (ledger_test_util.h); the
// degraded ledger is ledger_degraded_test.cpp's, what only LMDB has
// ledger_lmdb_test.cpp's.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
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

}  // namespace

TEMPLATE_TEST_CASE("a reservation that fits is held and a commit charges what the provider reported", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000, std::nullopt));
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

TEMPLATE_TEST_CASE("a reservation that does not fit is refused for that call only and marks nothing exhausted", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, std::nullopt));
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

TEMPLATE_TEST_CASE("a reservation larger than what is left is refused while a smaller one still fits", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, std::nullopt));
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

TEMPLATE_TEST_CASE("a reservation that does not fit the global budget is refused", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, 6000));
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

TEMPLATE_TEST_CASE("release frees the reserved tokens and a second release is refused", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, 8000));
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

TEMPLATE_TEST_CASE("a failing operation does not poison the other operations of its batch", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, std::nullopt));
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

TEMPLATE_TEST_CASE("a charge above the reservation is charged in full", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000, std::nullopt));
  auto r = l->reserve("a1", "anthropic", 100, "big", kNov15);
  auto c = l->commit(r->reservation_id, 150, 50, 0, kNov15);
  REQUIRE(c.ok());
  CHECK(c->charged == 200);
  CHECK(usage_of(*l, "a1", "anthropic").used == 200);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 0);
}

TEMPLATE_TEST_CASE("reservations left open are charged in full when the ledger is reopened", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  uint64_t id = 0;
  {
    auto l = backend.open(test_policy(10000, 20000));
    id = l->reserve("a1", "anthropic", 3000, "x", kNov15)->reservation_id;
    REQUIRE(l->reserve("a1", "anthropic", 500, "y", kNov15)->reserved());
    REQUIRE(l->reserve("a2", "openai", 700, "z", kNov15)->reserved());
    REQUIRE(l->commit(id, 10, 10, 0, kNov15).ok());
    CHECK(l->report().charges.empty());
  }
  auto l = backend.open(test_policy(10000, 20000));
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
  auto again = backend.open(test_policy(10000, 20000));
  CHECK(again->report().recovered_tokens == 0);
  CHECK(usage_of(*again, "a1", "anthropic").used == 520);
}

TEMPLATE_TEST_CASE("recovery charges each leftover reservation its cost at full charge", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  {
    auto l = backend.open(test_policy(10000, std::nullopt));
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
  auto l = backend.open(test_policy(10000, std::nullopt));
  CHECK(l->report().recovered_tokens == 3500);
  const auto a1 = usage_of(*l, "a1", "anthropic");
  CHECK(a1.used == 3520);
  CHECK(a1.reserved == 0);
  CHECK(a1.cost_usd == Approx(0.76));
  CHECK(usage_of(*l, "*", "anthropic").cost_usd == Approx(0.76));
  auto history = l->history("a1", 1, kNov15);
  REQUIRE(history.ok());
  CHECK(history->front().cost_usd == Approx(0.76));
}

TEMPLATE_TEST_CASE("reset clears the agent usage and lowers the global usage by the same amount", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000, 50000));
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

TEMPLATE_TEST_CASE("idempotency entries are returned until they expire and prune deletes them", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000, std::nullopt));
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

TEMPLATE_TEST_CASE("reservations count requests per provider per utc day", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(100000, std::nullopt));
  constexpr int64_t kDay = 86400000;
  for (int i = 0; i < 3; ++i) REQUIRE(l->reserve("a1", "openai", 10, "x", kNov15)->reserved());
  CHECK(l->reserve("a1", "openai", 10, "x", kNov15)->requests_today == 4);
  CHECK(l->count_request("openai", kNov15).value() == 5);
  CHECK(l->requests_today("openai", kNov15).value() == 5);
  CHECK(l->requests_today("anthropic", kNov15).value() == 0);
  CHECK(l->requests_today("openai", kNov15 + kDay).value() == 0);
  CHECK(l->reserve("a1", "openai", 10, "x", kNov15 + kDay)->requests_today == 1);
}

namespace {

// test_policy with a rate limit on anthropic only.
BudgetPolicy rate_policy(uint32_t per_minute, uint32_t per_day) {
  BudgetPolicy p = test_policy(100000, std::nullopt);
  p.rate_limits = [per_minute, per_day](const std::string& provider) {
    return provider == "anthropic" ? tollgate::policy::RateLimits{per_minute, per_day}
                                   : tollgate::policy::RateLimits{};
  };
  return p;
}

}  // namespace

TEMPLATE_TEST_CASE("a full minute of attempts refuses the next until its oldest ages out and survives a reopen",
                   "[ledger][rate]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(rate_policy(2, 0));
  auto first = l->reserve("a1", "anthropic", 10, "r1", kNov15);
  REQUIRE(first->reserved());
  REQUIRE(l->reserve("a1", "anthropic", 10, "r2", kNov15 + 1000)->reserved());
  // A released attempt keeps its slot: it may have been sent.
  REQUIRE(l->release(first->reservation_id).ok());
  auto full = l->reserve("a1", "anthropic", 10, "r3", kNov15 + 2000);
  REQUIRE(full.ok());
  CHECK(full->status == ReserveStatus::kRateLimited);
  CHECK(full->retry_after_ms == 58000);
  CHECK(usage_of(*l, "a1", "anthropic").reserved == 10);  // a refusal holds nothing
  CHECK(l->requests_today("anthropic", kNov15).value() == 2);
  CHECK(l->requests_this_minute("anthropic", kNov15 + 2000).value() == 2);
  CHECK(l->requests_this_minute("anthropic", kNov15 + 60000).value() == 1);
  CHECK(l->reserve("a1", "openai", 10, "o1", kNov15 + 2000)->reserved());  // no limit there

  REQUIRE(l->reserve("a1", "anthropic", 10, "r4", kNov15 + 60000)->reserved());
  l.reset();
  l = backend.open(rate_policy(2, 0));
  auto again = l->reserve("a1", "anthropic", 10, "r5", kNov15 + 60500);
  CHECK(again->status == ReserveStatus::kRateLimited);
  CHECK(again->retry_after_ms == 500);
  CHECK(l->reserve("a1", "anthropic", 10, "r6", kNov15 + 61000)->reserved());
}

TEMPLATE_TEST_CASE("an attempt refused by its budget takes no slot of the rate limit",
                   "[ledger][rate]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(rate_policy(1, 0));
  CHECK(l->reserve("a1", "anthropic", 200000, "big", kNov15)->status ==
        ReserveStatus::kAgentDoesNotFit);
  CHECK(l->reserve("a1", "anthropic", 10, "small", kNov15)->reserved());
  CHECK(l->reserve("a1", "anthropic", 10, "next", kNov15)->status == ReserveStatus::kRateLimited);
}

TEMPLATE_TEST_CASE("a full day of attempts refuses the next until the next utc midnight",
                   "[ledger][rate]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(rate_policy(0, 3));
  for (int i = 0; i < 3; ++i) REQUIRE(l->reserve("a1", "anthropic", 10, "r", kNov15)->reserved());
  auto full = l->reserve("a1", "anthropic", 10, "r", kNov15);
  CHECK(full->status == ReserveStatus::kRateLimited);
  CHECK(full->retry_after_ms == 14 * 3600 * 1000);  // kNov15 is 10:00 UTC
  CHECK(l->reserve("a1", "anthropic", 10, "r", kDec1)->reserved());
}
