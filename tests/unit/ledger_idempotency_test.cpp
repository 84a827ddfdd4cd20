// Idempotency in the ledger (ledger.h, PROTOCOL.md section 3 `call`,
// DESIGN.md invariant 4): the pending marker travels with each reservation,
// the stored reply with the commit that charges the call, a failed call's
// marker goes only once its reservation is settled, and the expiry sweep
// works in bounded steps. Every case runs against every ledger backend
// (ledger_test_util.h), with a fake clock.
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <future>
#include <string>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
const std::string kFingerprint(32, '\x5a');

BudgetPolicy test_policy(uint64_t agent_limit) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, std::nullopt);
}

IdempotentCall held_key(const std::string& key) {
  return IdempotentCall{"imperium", key, kFingerprint, kNov15, kNov15 + kDayMs};
}

ReserveRequest idempotent_reserve(const std::string& key, uint64_t amount) {
  ReserveRequest r = reserve_request("imperium", "anthropic", amount, "req-" + key, kNov15);
  r.idempotency = held_key(key);
  return r;
}

std::optional<IdempotencyRecord> record_of(const Ledger& l, const std::string& key,
                                           int64_t now_ms = kNov15) {
  auto r = l.idempotency_record("imperium", key, now_ms);
  REQUIRE(r.ok());
  return *r;
}

BudgetUsage anthropic_usage(const Ledger& l) {
  auto u = l.usage("imperium", "2024-11");
  REQUIRE(u.ok());
  return u.value()["anthropic"];
}

Result<CommitOutcome> commit_with(Ledger& l, uint64_t reservation_id, StoredReply stored) {
  std::promise<Result<CommitOutcome>> done;
  auto future = done.get_future();
  l.commit_async(CommitRequest{reservation_id, 300, 100, 0.5, kNov15 + 10}, std::move(stored),
                 [&done](Result<CommitOutcome> r) { done.set_value(std::move(r)); });
  return future.get();
}

}  // namespace

TEMPLATE_TEST_CASE("a reservation of an idempotent call writes its pending marker with the reservation", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  auto first = l->reserve(idempotent_reserve("order-1", 1000));
  REQUIRE(first.ok());
  REQUIRE(first->reserved());
  auto marker = record_of(*l, "order-1");
  REQUIRE(marker.has_value());
  CHECK(marker->state == IdempotencyState::kPending);
  CHECK(marker->fingerprint == kFingerprint);
  CHECK(marker->reservation_id == first->reservation_id);
  CHECK(marker->received_ms == kNov15);
  CHECK(marker->expiry_ms == kNov15 + kDayMs);
  CHECK_FALSE(l->idempotency_get("imperium", "order-1", kNov15)->has_value());

  // A retry's reservation replaces it.
  REQUIRE(l->release(first->reservation_id).ok());
  CHECK(record_of(*l, "order-1")->reservation_id == 0);  // between attempts: none open
  auto retry = l->reserve(idempotent_reserve("order-1", 1000));
  REQUIRE(retry->reserved());
  CHECK(record_of(*l, "order-1")->reservation_id == retry->reservation_id);
}

TEMPLATE_TEST_CASE("a reservation that does not fit writes no pending marker", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(500));
  auto refused = l->reserve(idempotent_reserve("order-2", 1000));
  REQUIRE(refused.ok());
  REQUIRE_FALSE(refused->reserved());
  CHECK_FALSE(record_of(*l, "order-2").has_value());
}

TEMPLATE_TEST_CASE("a failed reservation write leaves neither the reservation nor its marker", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  std::atomic<int> fail_next{0};
  SuiteOptions o;
  o.write_fault = [&] { return fail_next.exchange(0); };
  auto l = backend.open(test_policy(10000), kNov15, o);
  fail_next = EIO;
  REQUIRE_FALSE(l->reserve(idempotent_reserve("order-3", 1000)).ok());
  REQUIRE(l->probe().ok());
  CHECK(anthropic_usage(*l).reserved == 0);
  CHECK_FALSE(record_of(*l, "order-3").has_value());
}

TEMPLATE_TEST_CASE("a commit with a stored reply charges the call and stores the reply in one transaction", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  std::atomic<int> fail_next{0};
  SuiteOptions o;
  o.write_fault = [&] { return fail_next.exchange(0); };
  auto l = backend.open(test_policy(10000), kNov15, o);
  auto r = l->reserve(idempotent_reserve("order-4", 1000));
  REQUIRE(r->reserved());
  const std::string reply("reply\0bytes", 11);

  // The commit's write fails: nothing of it is there, the charge nor the
  // reply; the settlement is kept (deferred) with its reply, and applied,
  // both in one transaction, once a probe write succeeds.
  fail_next = EIO;
  auto kept = commit_with(*l, r->reservation_id, StoredReply{held_key("order-4"), reply, 11});
  REQUIRE(kept.ok());
  CHECK(kept->deferred);
  CHECK(anthropic_usage(*l).used == 0);
  CHECK(anthropic_usage(*l).reserved == 1000);
  CHECK(record_of(*l, "order-4")->state == IdempotencyState::kPending);
  REQUIRE(l->probe().ok());
  CHECK(anthropic_usage(*l).used == 400);
  CHECK(anthropic_usage(*l).reserved == 0);
  // Applied once: the same commit again finds no reservation.
  CHECK_FALSE(commit_with(*l, r->reservation_id, StoredReply{held_key("order-4"), reply, 11}).ok());
  auto done = record_of(*l, "order-4");
  REQUIRE(done.has_value());
  CHECK(done->state == IdempotencyState::kDone);
  CHECK(done->reply == reply);
  CHECK(done->fingerprint == kFingerprint);
  CHECK(l->idempotency_get("imperium", "order-4", kNov15)->value() == reply);
}

TEMPLATE_TEST_CASE("a commit of an unknown reservation stores no reply", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  REQUIRE_FALSE(commit_with(*l, 999, StoredReply{held_key("order-5"), "reply", 5}).ok());
  CHECK_FALSE(record_of(*l, "order-5").has_value());
}

TEMPLATE_TEST_CASE("a reply too large to keep is recorded with its size and no reply", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  auto r = l->reserve(idempotent_reserve("order-6", 1000));
  REQUIRE(commit_with(*l, r->reservation_id, StoredReply{held_key("order-6"), std::nullopt, 2000000}).ok());
  auto record = record_of(*l, "order-6");
  REQUIRE(record.has_value());
  CHECK(record->state == IdempotencyState::kReplyTooLarge);
  CHECK(record->reply_bytes == 2000000);
  CHECK(record->reply.empty());
  CHECK_FALSE(l->idempotency_get("imperium", "order-6", kNov15)->has_value());
  CHECK(anthropic_usage(*l).used == 400);
}

TEMPLATE_TEST_CASE("a crash between reserve and commit leaves the pending marker and recovery charges the reservation", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  uint64_t reservation = 0;
  {
    auto l = backend.open(test_policy(10000));
    auto r = l->reserve(idempotent_reserve("order-7", 1000));
    REQUIRE(r->reserved());
    reservation = r->reservation_id;
  }  // closed with the reservation open: what a crash leaves
  auto l = backend.open(test_policy(10000), kNov15 + 60000);
  CHECK(l->report().recovered_tokens == 1000);
  CHECK(anthropic_usage(*l).used == 1000);
  CHECK(anthropic_usage(*l).reserved == 0);
  auto marker = record_of(*l, "order-7", kNov15 + 60000);
  REQUIRE(marker.has_value());
  CHECK(marker->state == IdempotencyState::kPending);
  // The marker stays; its reservation reads 0: settled, none open (what a
  // repeat waiting on another daemon looks for).
  CHECK(reservation != 0);
  CHECK(marker->reservation_id == 0);
  CHECK(marker->fingerprint == kFingerprint);
}

TEMPLATE_TEST_CASE("a failed call's pending marker is forgotten only once its reservation is settled", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  auto r = l->reserve(idempotent_reserve("order-8", 1000));
  REQUIRE(r->reserved());
  // Still open (a commit that failed): the provider may have served it.
  CHECK(l->idempotency_forget("imperium", "order-8").value() == false);
  CHECK(record_of(*l, "order-8")->state == IdempotencyState::kPending);
  REQUIRE(l->release(r->reservation_id).ok());
  CHECK(l->idempotency_forget("imperium", "order-8").value() == true);
  CHECK_FALSE(record_of(*l, "order-8").has_value());
  // Nothing to forget: no marker (a call that never reserved).
  CHECK(l->idempotency_forget("imperium", "order-8").value() == false);
}

TEMPLATE_TEST_CASE("forgetting never deletes a stored reply", "[ledger]", LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(10000));
  auto r = l->reserve(idempotent_reserve("order-9", 1000));
  REQUIRE(commit_with(*l, r->reservation_id, StoredReply{held_key("order-9"), "reply", 5}).ok());
  CHECK(l->idempotency_forget("imperium", "order-9").value() == false);
  CHECK(record_of(*l, "order-9")->state == IdempotencyState::kDone);
}

TEMPLATE_TEST_CASE("a prune over many rows is done in bounded steps that resume where the last stopped", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  SuiteOptions o;
  o.prune_rows_per_step = 100;
  auto l = backend.open(test_policy(10000), kNov15, o);
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
  CHECK_FALSE(record_of(*l, "k001", kNov15).has_value());
  // The next round starts at the beginning and finds only the live rows.
  auto again = l->prune(now);
  CHECK(again->scanned == 50);
  CHECK(again->deleted == 0);
  CHECK(again->swept);
}
