// Concurrent reserve/commit/release from 8 threads against tight budgets:
// after every durable batch no budget has used + reserved over its limit;
// at the end used equals exactly what the threads committed and nothing
// stays reserved. Runs against every ledger backend (ledger_test_util.h).
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr uint64_t kAgentLimit = 2000000;
constexpr uint64_t kGlobalLimit = 6000000;
const std::array<std::string, 4> kAgents = {"a0", "a1", "a2", "a3"};
const std::array<std::string, 2> kProviders = {"anthropic", "openai"};

// Returns a description of the first budget over its limit (divided by
// scale), or of a read that failed (a PostgreSQL server gone, say: the
// test then fails with that instead of aborting on the writer thread), or
// "".
std::string over_limit(const Ledger& l, uint64_t scale) {
  const uint64_t agent_limit = kAgentLimit / scale;
  const uint64_t global_limit = kGlobalLimit / scale;
  const auto global = l.global_usage("2024-11");
  if (!global.ok()) return "reading global usage failed: " + global.error().message;
  for (const auto& provider : kProviders) {
    const auto g = global.value().at(provider);
    if (g.used + g.reserved > global_limit) return "global " + provider;
  }
  for (const auto& agent : kAgents) {
    const auto usage = l.usage(agent, "2024-11");
    if (!usage.ok()) return "reading " + agent + "'s usage failed: " + usage.error().message;
    for (const auto& [provider, u] : usage.value()) {
      if (u.used + u.reserved > agent_limit) return agent + " " + provider;
    }
  }
  return "";
}

}  // namespace

TEMPLATE_TEST_CASE("concurrent calls never push a budget over its limit and every charge is counted once", "[ledger]",
                   LEDGER_BACKENDS) {
  TestType backend;
  // PostgreSQL batches are round trips to a server that shares the
  // machine's cores with the test: a fifth of the operations against a
  // fifth of the limits makes the same races.
  const uint64_t scale = std::is_same_v<TestType, Postgres> ? 5 : 1;
  std::atomic<Ledger*> ledger{nullptr};
  std::atomic<uint64_t> batches{0};
  std::mutex violation_mu;
  std::string violation;
  SuiteOptions o;
  o.durable = false;  // durability is the crash test's subject; this one is about races
  o.after_batch = [&] {
    Ledger* l = ledger.load();
    if (l == nullptr) return;
    batches++;
    if (auto v = over_limit(*l, scale); !v.empty()) {
      std::lock_guard lock(violation_mu);
      if (violation.empty()) violation = v;
    }
  };
  auto opened = backend.open(
      fixed_policy({kProviders.begin(), kProviders.end()}, kAgentLimit / scale,
                   kGlobalLimit / scale),
      kNov15, o);
  ledger = opened.get();
  Ledger& l = *opened;

  constexpr int kThreads = 8;
  const int kOpsPerThread = static_cast<int>(10000 / scale);
  std::array<std::array<std::atomic<uint64_t>, 2>, 4> charged{};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> errors{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(1000 + t);
        std::uniform_int_distribution<size_t> agent(0, 3), provider(0, 1), action(0, 9);
        std::uniform_int_distribution<uint64_t> amount(1, 2000);
        int ops = 0;
        while (ops < kOpsPerThread) {
          const size_t a = agent(rng), pr = provider(rng);
          const uint64_t want = amount(rng);
          auto r = l.reserve(kAgents[a], kProviders[pr], want, "t", kNov15);
          ++ops;
          if (!r.ok()) { errors++; continue; }
          if (!r->reserved()) { refused++; continue; }
          if (action(rng) < 3) {
            if (!l.release(r->reservation_id).ok()) errors++;
          } else {
            const uint64_t in = std::uniform_int_distribution<uint64_t>(0, want)(rng);
            const uint64_t out = std::uniform_int_distribution<uint64_t>(0, want - in)(rng);
            if (l.commit(r->reservation_id, in, out, 0.001, kNov15).ok()) {
              charged[a][pr] += in + out;
            } else {
              errors++;
            }
          }
          ++ops;
        }
      });
    }
  }
  ledger = nullptr;
  INFO("batches " << batches.load() << ", refused " << refused.load());
  CHECK(violation.empty());
  CHECK(errors == 0);
  CHECK(refused > 0);  // the budgets really were tight
  CHECK(batches > 0);
  for (size_t pr = 0; pr < 2; ++pr) {
    uint64_t sum = 0;
    for (size_t a = 0; a < 4; ++a) {
      const auto u = l.usage(kAgents[a], "2024-11").value().at(kProviders[pr]);
      CHECK(u.used == charged[a][pr].load());
      CHECK(u.reserved == 0);
      sum += u.used;
    }
    const auto g = l.global_usage("2024-11").value().at(kProviders[pr]);
    CHECK(g.used == sum);
    CHECK(g.reserved == 0);
  }
}
