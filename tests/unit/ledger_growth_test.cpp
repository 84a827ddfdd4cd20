// A tiny initial map fills and grows by itself with nothing lost.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "daemon/ledger/ledger.h"

using namespace tollgate::ledger;

namespace {

constexpr int64_t kNov15 = 1731664800000;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tollgate-ledger-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("a tiny map grows when full and keeps every write") {
  TempDir dir;
  BudgetPolicy p;
  p.providers = {"anthropic"};
  p.agent_limit = [](const std::string&, const std::string&) -> uint64_t { return 1u << 30; };
  p.global_limit = [](const std::string&) -> std::optional<uint64_t> { return std::nullopt; };
  LedgerOptions o;
  o.dir = dir.path;
  o.initial_map_bytes = 64 * 1024;
  auto opened = Ledger::open(o, p, kNov15);
  REQUIRE(opened.ok());
  auto& l = *opened.value();
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
