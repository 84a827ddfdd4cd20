// Helpers shared by the ledger unit tests: a fake "now", a temporary data
// directory, a budget policy with fixed limits and opening a ledger that
// must open. Test threads only (they use Catch2's REQUIRE); each TempDir
// owns its directory and removes it when destroyed.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/ledger/ledger.h"

namespace tollgate::ledger::testing {

inline constexpr int64_t kNov15 = 1731664800000;  // 2024-11-15T10:00:00Z
inline constexpr int64_t kDec1 = 1733011200000;   // 2024-12-01T00:00:00Z

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tollgate-ledger-XXXXXX";
    const char* made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Every agent gets agent_limit of every provider; every provider has the
// same global limit (nullopt: none).
inline BudgetPolicy fixed_policy(std::vector<std::string> providers, uint64_t agent_limit,
                                 std::optional<uint64_t> global_limit,
                                 bool shutdown_on_emergency = false) {
  BudgetPolicy p;
  p.providers = std::move(providers);
  p.agent_limit = [agent_limit](const std::string&, const std::string&) { return agent_limit; };
  p.global_limit = [global_limit](const std::string&) { return global_limit; };
  p.shutdown_on_emergency = shutdown_on_emergency;
  return p;
}

// A reservation request; wait_for > 0 lets it queue that long for room
// held by other reservations (admission, PROTOCOL.md section 3 rule 6).
inline ReserveRequest reserve_request(std::string agent, std::string provider, uint64_t amount,
                                      std::string request_id, int64_t now_ms,
                                      std::chrono::milliseconds wait_for = {},
                                      std::optional<double> soft_threshold = std::nullopt) {
  ReserveRequest r;
  r.agent = std::move(agent);
  r.provider = std::move(provider);
  r.amount = amount;
  r.request_id = std::move(request_id);
  r.now_ms = now_ms;
  if (wait_for.count() > 0) r.wait_until = std::chrono::steady_clock::now() + wait_for;
  r.soft_threshold = soft_threshold;
  return r;
}

// Opens a ledger with these options; the test stops if it does not open.
inline std::unique_ptr<Ledger> open_ledger(LedgerOptions options, BudgetPolicy policy,
                                           int64_t now_ms = kNov15) {
  auto l = Ledger::open(std::move(options), std::move(policy), now_ms);
  REQUIRE(l.ok());
  return std::move(l.value());
}

// Opens a ledger in dir with default options.
inline std::unique_ptr<Ledger> open_ledger(const std::string& dir, BudgetPolicy policy,
                                           int64_t now_ms = kNov15) {
  LedgerOptions o;
  o.dir = dir;
  return open_ledger(std::move(o), std::move(policy), now_ms);
}

}  // namespace tollgate::ledger::testing
