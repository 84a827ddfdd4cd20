// Month rollover with a fake clock: November usage, then December. Every
// case runs against every ledger backend (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

template <class Backend>
std::unique_ptr<Ledger> open_at(Backend& backend, int64_t now_ms) {
  return backend.open(fixed_policy({"anthropic", "openai"}, 10000, 15000), now_ms);
}

}  // namespace

TEMPLATE_TEST_CASE("the first operation in a new month starts it at zero and reports the rollover once", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = open_at(backend, kNov15);
  CHECK_FALSE(l->report().rollover.has_value());
  auto r = l->reserve("imperium", "anthropic", 9000, "nov", kNov15);
  REQUIRE(r->reserved());
  CHECK_FALSE(r->rollover.has_value());
  REQUIRE(l->commit(r->reservation_id, 8000, 1000, 0.1, kNov15 + 1).ok());
  CHECK(l->current_period(kNov15).value() == "2024-11");

  // Reads in December already show the new month (nothing used yet).
  CHECK(l->current_period(kDec1).value() == "2024-12");
  CHECK(l->snapshot("imperium", kDec1)->providers["anthropic"].agent.used == 0);

  auto dec = l->reserve("imperium", "anthropic", 9500, "dec", kDec1 + 5);
  REQUIRE(dec.ok());
  REQUIRE(dec->rollover.has_value());
  CHECK(dec->rollover->from == "2024-11");
  CHECK(dec->rollover->to == "2024-12");
  CHECK(dec->reserved());  // the December budget starts empty
  CHECK(dec->period == "2024-12");
  auto next = l->commit(dec->reservation_id, 100, 100, 0, kDec1 + 6);
  REQUIRE(next.ok());
  CHECK_FALSE(next->rollover.has_value());

  // A late operation stamped in November stays in the current period.
  auto late = l->reserve("imperium", "openai", 10, "late", kNov15 + 2);
  CHECK(late->period == "2024-12");
  CHECK_FALSE(late->rollover.has_value());

  auto hist = l->history("imperium", 3, kDec1 + 10);
  REQUIRE(hist.ok());
  REQUIRE(hist->size() == 3);
  CHECK((*hist)[0].period == "2024-12");
  CHECK((*hist)[0].total_tokens == 200);
  CHECK((*hist)[1].period == "2024-11");
  CHECK((*hist)[1].total_tokens == 9000);
  CHECK((*hist)[1].providers["anthropic"].requests == 1);
  CHECK((*hist)[1].cost_usd == Approx(0.1));
  CHECK((*hist)[2].period == "2024-10");
  CHECK((*hist)[2].total_tokens == 0);
  CHECK((*hist)[2].providers.empty());
}

TEMPLATE_TEST_CASE("a reservation made before the rollover is charged to its own month", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = open_at(backend, kNov15);
  auto r = l->reserve("a1", "openai", 1000, "x", kDec1 - 1);
  auto c = l->commit(r->reservation_id, 400, 100, 0, kDec1 + 1);
  REQUIRE(c.ok());
  REQUIRE(c->rollover.has_value());
  CHECK(c->period == "2024-11");
  CHECK(l->usage("a1", "2024-11")->at("openai").used == 500);
  CHECK(l->usage("a1", "2024-11")->at("openai").reserved == 0);
  CHECK(l->usage("a1", "2024-12")->at("openai").used == 0);
}

TEMPLATE_TEST_CASE("opening the ledger in a later month reports the rollover", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  {
    auto l = open_at(backend, kNov15);
    REQUIRE(l->reserve("a1", "openai", 10, "x", kNov15)->reserved());
  }
  auto l = open_at(backend, kDec1 + 1000);
  REQUIRE(l->report().rollover.has_value());
  CHECK(l->report().rollover->from == "2024-11");
  CHECK(l->report().charges.size() == 1);
  CHECK_FALSE(l->reserve("a1", "openai", 10, "y", kDec1 + 2000)->rollover.has_value());
}
