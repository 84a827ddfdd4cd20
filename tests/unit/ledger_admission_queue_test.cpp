// The ledger's admission queue (PROTOCOL.md section 3, rule 6): a
// reservation held back only by other calls' reservations waits, first come
// first served per budget, until it fits or its wait ends. Every case runs
// against every ledger backend (ledger_test_util.h); waits are bounded by
// each request's own deadline, never by sleeping.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;
using namespace std::chrono_literals;

namespace {

BudgetPolicy test_policy(uint64_t agent_limit, std::optional<uint64_t> global_limit = std::nullopt) {
  return fixed_policy({"anthropic", "openai"}, agent_limit, global_limit);
}

// A reservation submitted asynchronously; get() waits for its outcome.
struct Pending {
  std::promise<Result<ReserveOutcome>> promise;
  std::future<Result<ReserveOutcome>> future = promise.get_future();
  bool ready() { return future.wait_for(0s) == std::future_status::ready; }
  Result<ReserveOutcome> get() { return future.get(); }
};

void submit(Ledger& l, ReserveRequest r, Pending& p) {
  l.reserve_async(std::move(r), [&p](Result<ReserveOutcome> out) { p.promise.set_value(std::move(out)); });
}

// Blocks until `n` reservations wait for `provider` (the writer publishes
// the count after each batch).
void wait_for_waiting(const Ledger& l, const std::string& provider, uint64_t n) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < give_up) {
    auto w = l.waiting();
    auto it = w.find(provider);
    if ((it == w.end() ? 0 : it->second) == n) return;
    std::this_thread::yield();
  }
  FAIL("reservations waiting for " << provider << " never reached " << n);
}

}  // namespace

TEMPLATE_TEST_CASE("a reservation held back by another call's reservation waits and is admitted when it settles", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto first = l->reserve("imperium", "anthropic", 4000, "a", kNov15);
  REQUIRE(first->reserved());
  Pending second;
  submit(*l, reserve_request("imperium", "anthropic", 3000, "b", kNov15, 60s), second);
  wait_for_waiting(*l, "anthropic", 1);
  CHECK_FALSE(second.ready());
  // The first call used 1,500 of its 4,000: 3,500 left, enough.
  REQUIRE(l->commit(first->reservation_id, 1200, 300, 0, kNov15).ok());
  auto r = second.get();
  REQUIRE(r.ok());
  CHECK(r->reserved());
  CHECK(r->waited);
  wait_for_waiting(*l, "anthropic", 0);
  auto u = l->usage("imperium", "2024-11").value()["anthropic"];
  CHECK(u.used == 1500);
  CHECK(u.reserved == 3000);
}

TEMPLATE_TEST_CASE("a reservation that can never fit is refused at once even while others wait", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto first = l->reserve("imperium", "anthropic", 4000, "a", kNov15);
  REQUIRE(l->commit(first->reservation_id, 4000, 0, 0, kNov15).ok());
  const auto started = std::chrono::steady_clock::now();
  auto r = l->reserve(reserve_request("imperium", "anthropic", 1001, "b", kNov15, 60s));
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  REQUIRE(r.ok());
  CHECK(r->refused_by == RefusedBy::kLimit);
  CHECK_FALSE(r->waited);
  CHECK(r->left == 1000);
}

TEMPLATE_TEST_CASE("a waiting reservation is refused when its wait ends and nothing else changes", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto first = l->reserve("imperium", "anthropic", 4500, "a", kNov15);
  REQUIRE(first->reserved());
  auto r = l->reserve(reserve_request("imperium", "anthropic", 1000, "b", kNov15, 50ms));
  REQUIRE(r.ok());
  CHECK_FALSE(r->reserved());
  CHECK(r->refused_by == RefusedBy::kInFlight);
  CHECK(r->waited);
  CHECK(r->in_flight == 4500);
  wait_for_waiting(*l, "anthropic", 0);
  // Nothing was changed by the refusal: the room is still there once the
  // first call settles.
  REQUIRE(l->release(first->reservation_id).ok());
  CHECK(l->reserve("imperium", "anthropic", 5000, "c", kNov15)->reserved());
}

TEMPLATE_TEST_CASE("a large reservation at the head of the queue is not starved by small ones behind it", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto a = l->reserve("imperium", "anthropic", 3000, "a", kNov15);
  auto b = l->reserve("imperium", "anthropic", 2000, "b", kNov15);
  REQUIRE(a->reserved());
  REQUIRE(b->reserved());
  Pending big;
  submit(*l, reserve_request("imperium", "anthropic", 4000, "big", kNov15, 60s), big);
  wait_for_waiting(*l, "anthropic", 1);
  // A small call that would fit once b settles must queue behind the big one.
  Pending small;
  submit(*l, reserve_request("imperium", "anthropic", 500, "small", kNov15, 60s), small);
  wait_for_waiting(*l, "anthropic", 2);
  REQUIRE(l->release(b->reservation_id).ok());
  // 2,000 free: enough for small, not for big; small still waits its turn.
  wait_for_waiting(*l, "anthropic", 2);
  CHECK_FALSE(small.ready());
  CHECK_FALSE(big.ready());
  REQUIRE(l->release(a->reservation_id).ok());
  auto big_r = big.get();
  auto small_r = small.get();
  REQUIRE(big_r->reserved());
  REQUIRE(small_r->reserved());
  CHECK(big_r->reservation_id < small_r->reservation_id);
  CHECK(l->usage("imperium", "2024-11").value()["anthropic"].reserved == 4500);
}

TEMPLATE_TEST_CASE("the queue of one budget does not hold back another agent's budget", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto a = l->reserve("imperium", "anthropic", 5000, "a", kNov15);
  REQUIRE(a->reserved());
  Pending waiting;
  submit(*l, reserve_request("imperium", "anthropic", 100, "w", kNov15, 60s), waiting);
  wait_for_waiting(*l, "anthropic", 1);
  auto other = l->reserve(reserve_request("guardian", "anthropic", 100, "g", kNov15, 60s));
  CHECK(other->reserved());
  REQUIRE(l->release(a->reservation_id).ok());
  CHECK(waiting.get()->reserved());
}

TEMPLATE_TEST_CASE("cancelling the waits answers every waiting reservation at once", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  auto a = l->reserve("imperium", "anthropic", 5000, "a", kNov15);
  REQUIRE(a->reserved());
  Pending w1;
  Pending w2;
  submit(*l, reserve_request("imperium", "anthropic", 100, "w1", kNov15, 600s), w1);
  submit(*l, reserve_request("imperium", "anthropic", 200, "w2", kNov15, 600s), w2);
  wait_for_waiting(*l, "anthropic", 2);
  l->cancel_waits();
  auto r1 = w1.get();
  auto r2 = w2.get();
  CHECK_FALSE(r1->reserved());
  CHECK(r1->refused_by == RefusedBy::kInFlight);
  CHECK_FALSE(r2->reserved());
  wait_for_waiting(*l, "anthropic", 0);
}

TEMPLATE_TEST_CASE("closing the ledger answers the reservations still waiting", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  Pending w;
  {
    auto l = backend.open(test_policy(5000));
    REQUIRE(l->reserve("imperium", "anthropic", 5000, "a", kNov15)->reserved());
    submit(*l, reserve_request("imperium", "anthropic", 100, "w", kNov15, 600s), w);
    wait_for_waiting(*l, "anthropic", 1);
  }
  auto r = w.get();
  REQUIRE(r.ok());
  CHECK_FALSE(r->reserved());
}

TEMPLATE_TEST_CASE("concurrent reservations from many threads spend a budget to the end and never over it", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  auto l = backend.open(test_policy(5000));
  // 40 threads, 10 calls each, reserving 400 and using 100..320.
  std::atomic<uint64_t> charged{0};
  std::atomic<int> served{0};
  std::atomic<int> refused{0};
  std::atomic<int> errors{0};  // Catch2 assertions are for the main thread
  std::vector<std::jthread> threads;
  for (int t = 0; t < 40; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = l->reserve(reserve_request("imperium", "anthropic", 400,
                                            std::to_string(t * 100 + i), kNov15, 10s));
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if (!r->reserved()) {
          ++refused;
          continue;
        }
        const uint64_t used = 100 + static_cast<uint64_t>((t * 7 + i * 13) % 221);
        if (!l->commit(r->reservation_id, used - 20, 20, 0, kNov15).ok()) ++errors;
        charged += used;
        ++served;
      }
    });
  }
  threads.clear();
  CHECK(errors == 0);
  auto u = l->usage("imperium", "2024-11").value()["anthropic"];
  CHECK(u.reserved == 0);
  CHECK(u.used == charged.load());
  CHECK(u.used <= 5000);
  // Spent to within one reservation of the limit: nothing stranded.
  CHECK(5000 - u.used < 400);
  CHECK(served + refused == 400);
}
