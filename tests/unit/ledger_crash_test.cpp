// Crash safety: a forked child runs ledger operations from several threads
// and reports each commit on a pipe only after its callback said it was
// durable; the parent SIGKILLs it after a random number of reports (also
// before it even opened the ledger). Every reopen must find a consistent
// ledger holding every reported commit, and recovery must charge exactly
// the reservations left behind.
#include <catch2/catch.hpp>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "tests/unit/ledger_test_util.h"

using namespace tollgate::ledger;
using namespace tollgate::ledger::testing;

namespace {

constexpr int kRounds = 60;
const std::array<std::string, 3> kAgents = {"a0", "a1", "a2"};
const std::array<std::string, 2> kProviders = {"anthropic", "openai"};

struct Ack {
  uint32_t agent;
  uint32_t provider;
  uint64_t tokens;
};

BudgetPolicy crash_policy() {
  return fixed_policy({kProviders.begin(), kProviders.end()}, 1u << 30, uint64_t{1} << 31);
}

// The child: never returns.
[[noreturn]] void run_child(const std::string& dir, int ack_fd, uint64_t seed) {
  LmdbLedgerOptions o;
  o.dir = dir;
  auto opened = LmdbLedger::open(o, crash_policy(), kNov15);
  if (!opened.ok()) _exit(3);
  Ledger& l = *opened.value();
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&l, ack_fd, seed, t] {
      std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(t));
      std::uniform_int_distribution<uint32_t> agent(0, 2), provider(0, 1), action(0, 9);
      std::uniform_int_distribution<uint64_t> amount(1, 1000);
      for (;;) {
        const uint32_t a = agent(rng), p = provider(rng);
        const uint64_t want = amount(rng);
        auto r = l.reserve(kAgents[a], kProviders[p], want, "crash", kNov15);
        if (!r.ok() || !r->reserved()) _exit(4);
        if (action(rng) < 2) {
          if (!l.release(r->reservation_id).ok()) _exit(5);
          continue;
        }
        const uint64_t used = std::uniform_int_distribution<uint64_t>(0, want)(rng);
        if (!l.commit(r->reservation_id, used, 0, 0, kNov15).ok()) _exit(6);
        const Ack ack{a, p, used};  // durable now: report it
        if (write(ack_fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(7);
      }
    });
  }
  for (;;) pause();
}

struct Totals {
  std::map<std::pair<size_t, size_t>, BudgetUsage> agent;
  std::map<size_t, BudgetUsage> global;
};

Totals read_totals(const Ledger& l) {
  Totals t;
  for (size_t a = 0; a < kAgents.size(); ++a) {
    auto u = l.usage(kAgents[a], "2024-11");
    REQUIRE(u.ok());
    for (size_t p = 0; p < kProviders.size(); ++p) t.agent[{a, p}] = u.value()[kProviders[p]];
  }
  auto g = l.global_usage("2024-11");
  REQUIRE(g.ok());
  for (size_t p = 0; p < kProviders.size(); ++p) t.global[p] = g.value()[kProviders[p]];
  return t;
}

void check_scopes_agree(const Totals& t) {
  for (size_t p = 0; p < kProviders.size(); ++p) {
    uint64_t used = 0, reserved = 0;
    for (size_t a = 0; a < kAgents.size(); ++a) {
      used += t.agent.at({a, p}).used;
      reserved += t.agent.at({a, p}).reserved;
    }
    REQUIRE(t.global.at(p).used == used);
    REQUIRE(t.global.at(p).reserved == reserved);
  }
}

}  // namespace

TEST_CASE("after a kill at a random moment the reopened ledger keeps every acknowledged commit") {
  TempDir dir;
  std::mt19937_64 rng(4242);
  std::map<std::pair<size_t, size_t>, uint64_t> acked;
  uint64_t total_recovered = 0;
  uint64_t total_acks = 0;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      run_child(dir.path, fds[1], rng());
    }
    close(fds[1]);
    // Kill after a random number of acknowledgements (0: while opening).
    const size_t kill_after = std::uniform_int_distribution<size_t>(0, 120)(rng);
    std::vector<Ack> acks;
    Ack ack{};
    while (acks.size() < kill_after && read(fds[0], &ack, sizeof ack) == sizeof ack) {
      acks.push_back(ack);
    }
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    INFO("round " << round << ": child status " << status);
    REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    while (read(fds[0], &ack, sizeof ack) == sizeof ack) acks.push_back(ack);  // until EOF
    close(fds[0]);
    for (const Ack& a : acks) acked[{a.agent, a.provider}] += a.tokens;
    total_acks += acks.size();

    Totals before;
    {
      LmdbLedgerOptions o;
      o.dir = dir.path;
      o.recover_on_open = false;  // look at what the crash left
      before = read_totals(*open_ledger(o, crash_policy()));
      check_scopes_agree(before);
    }
    auto l = open_ledger(dir.path, crash_policy());
    const Totals after = read_totals(*l);
    check_scopes_agree(after);
    uint64_t left_reserved = 0;
    for (const auto& [key, u] : after.agent) {
      const BudgetUsage& b = before.agent.at(key);
      REQUIRE(u.reserved == 0);
      REQUIRE(u.used == b.used + b.reserved);  // recovery charges in full
      REQUIRE(u.used >= acked[key]);           // nothing acknowledged is lost
      left_reserved += b.reserved;
    }
    REQUIRE(l->report().recovered_tokens == left_reserved);
    total_recovered += left_reserved;
  }
  INFO("acks " << total_acks << ", recovered tokens " << total_recovered);
  CHECK(total_acks > 0);
  CHECK(total_recovered > 0);  // some kills did land with reservations open
}
