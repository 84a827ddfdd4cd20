// A MemoryLedger for the unit tests of what sits above the ledger (the
// call code, the dispatcher): opened over a configuration's budgets on a
// ManualClock, charged by hand as earlier calls would have, read back.
// Test threads only (Catch2 REQUIRE).
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/core/clock.h"
#include "daemon/core/config.h"
#include "daemon/core/reports.h"
#include "daemon/ledger/memory/memory_ledger.h"

namespace tollgate::testing {

// Fresh tables, the configuration's budget policy; waits end on `clock`
// (move it, then call expire_waits(), or let the next write see them).
inline std::unique_ptr<ledger::MemoryLedger> open_memory_ledger(const Config& config,
                                                                const Clock& clock) {
  ledger::MemoryLedgerOptions options;
  options.clock = &clock;
  auto opened = ledger::MemoryLedger::open(std::move(options), budget_policy(config),
                                           clock.wall_ms());
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

// Charges `tokens` (half input, half output) to agent at provider now.
inline void charge(ledger::Ledger& ledger, const std::string& agent, const std::string& provider,
                   uint64_t tokens, int64_t now_ms) {
  auto r = ledger.reserve(agent, provider, tokens, "earlier", now_ms);
  REQUIRE(r.ok());
  REQUIRE(r->reserved());
  REQUIRE(ledger.commit(r->reservation_id, tokens / 2, tokens - tokens / 2, 0, now_ms).ok());
}

// The agent's budget at provider in the period of now_ms.
inline ledger::BudgetUsage usage_of(const ledger::Ledger& ledger, const std::string& agent,
                                    const std::string& provider, int64_t now_ms) {
  auto period = ledger.current_period(now_ms);
  REQUIRE(period.ok());
  auto usage = ledger.usage(agent, *period);
  REQUIRE(usage.ok());
  auto it = usage->find(provider);
  return it == usage->end() ? ledger::BudgetUsage{} : it->second;
}

}  // namespace tollgate::testing
