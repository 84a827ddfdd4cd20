// The ledger log: every reset, rollover and crash recovery is kept durably
// and read back newest first for the `ledger_events` op. Every case runs
// against every ledger backend (ledger_test_util.h).
#include <catch2/catch.hpp>

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
template <class Backend>
void november_then_crash(Backend& backend) {
  auto l = backend.open(test_policy(), kNov15);
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

TEMPLATE_TEST_CASE("the ledger log keeps resets rollovers and crash recoveries newest first", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  november_then_crash(backend);
  auto l = backend.open(test_policy(), kReopen);
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

TEMPLATE_TEST_CASE("the ledger log honours limit and an inclusive since_ms", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  november_then_crash(backend);
  auto l = backend.open(test_policy(), kReopen);

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

TEMPLATE_TEST_CASE("the ledger log survives reopening and a quiet reopen adds nothing", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  november_then_crash(backend);
  { backend.open(test_policy(), kReopen); }
  auto l = backend.open(test_policy(), kReopen + 1000);
  CHECK(l->report().charges.empty());
  CHECK_FALSE(l->report().rollover.has_value());
  const auto records = log_of(*l);
  REQUIRE(records.size() == 3);
  check_recovered(records[0]);
  check_rollover(records[1]);
  check_reset(records[2]);
}

TEMPLATE_TEST_CASE("a rollover started by a budget operation is logged once", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(), kNov15);
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
