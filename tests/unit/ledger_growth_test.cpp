// A tiny initial map fills and grows by itself with nothing lost.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

TEST_CASE("a tiny map grows when full and keeps every write") {
  TempDir dir;
  LedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 64 * 1024;
  auto opened = open_ledger(o, fixed_policy({"anthropic"}, 1u << 30, std::nullopt));
  auto& l = *opened;
  const size_t initial = l.map_size();
  const std::string reply(2000, 'r');
  constexpr int kAgents = 300;
  // Many agents (usage rows), idempotency replies and leftover reservations.
  for (int i = 0; i < kAgents; ++i) {
    const std::string agent = "agent-" + std::to_string(i);
    auto r = l.reserve(agent, "anthropic", 100, "x", kNov15);
    REQUIRE(r.ok());
    REQUIRE(l.commit(r->reservation_id, 60, 40, 0, kNov15).ok());
    REQUIRE(l.idempotency_put(agent, "key", reply, kNov15 + 1000).ok());
    REQUIRE(l.reserve(agent, "anthropic", 7, "open", kNov15).ok());
  }
  CHECK(l.map_size() > initial);
  CHECK(l.agents("2024-11")->size() == kAgents);
  const auto g = l.global_usage("2024-11").value().at("anthropic");
  CHECK(g.used == 100u * kAgents);
  CHECK(g.reserved == 7u * kAgents);
  CHECK(l.idempotency_get("agent-299", "key", kNov15)->value() == reply);
  CHECK_FALSE(l.degraded());
}
