#include "tools/tollbench/ledger_bench.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"

namespace tollgate::tollbench {
namespace {

using ledger::Ledger;

constexpr int64_t kBenchNowMs = 1731664800000;  // a fixed instant: one period
constexpr size_t kBenchAgents = 16;

// Shared by every chain; outlives them (the main thread waits for done).
struct BenchState {
  Ledger* ledger = nullptr;
  uint64_t total = 0;
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> completed{0};
  std::mutex mu;
  std::condition_variable cv;
  size_t chains_running = 0;
  std::optional<protocol::Error> error;

  void chain_finished(std::optional<protocol::Error> e) {
    std::lock_guard lock(mu);
    if (e && !error) error = std::move(e);
    if (--chains_running == 0) cv.notify_all();
  }
};

void start_pair(BenchState& s, size_t chain);

void on_committed(BenchState& s, size_t chain, protocol::Result<ledger::CommitOutcome> r) {
  if (!r.ok()) return s.chain_finished(r.error());
  s.completed++;
  start_pair(s, chain);
}

void on_reserved(BenchState& s, size_t chain, protocol::Result<ledger::ReserveOutcome> r) {
  if (!r.ok()) return s.chain_finished(r.error());
  if (!r->reserved()) {
    return s.chain_finished(protocol::Error::internal("bench reservation did not fit"));
  }
  s.ledger->commit_async(ledger::CommitRequest{r->reservation_id, 60, 40, 0.0001, kBenchNowMs},
                         [&s, chain](auto c) { on_committed(s, chain, std::move(c)); });
}

void start_pair(BenchState& s, size_t chain) {
  if (s.started.fetch_add(1) >= s.total) return s.chain_finished(std::nullopt);
  ledger::ReserveRequest req;
  req.agent = "bench-" + std::to_string(chain % kBenchAgents);
  req.provider = chain % 2 == 0 ? "anthropic" : "openai";
  req.amount = 200;
  req.request_id = "bench";
  req.now_ms = kBenchNowMs;
  s.ledger->reserve_async(std::move(req),
                          [&s, chain](auto r) { on_reserved(s, chain, std::move(r)); });
}

}  // namespace

protocol::Result<LedgerBenchResult> run_ledger_bench(const LedgerBenchOptions& options) {
  auto batches = std::make_shared<std::atomic<uint64_t>>(0);
  ledger::LmdbLedgerOptions lo;
  lo.dir = options.dir;
  lo.durable = options.durable;
  lo.max_batch_ops = options.group_commit ? 4096 : 1;
  lo.after_batch = [batches] { (*batches)++; };
  ledger::BudgetPolicy policy;
  policy.providers = {"anthropic", "openai"};
  policy.agent_limit = [](const std::string&, const std::string&) { return uint64_t{1} << 60; };
  policy.global_limit = [](const std::string&) -> std::optional<uint64_t> {
    return uint64_t{1} << 62;
  };
  auto opened = ledger::LmdbLedger::open(lo, policy, kBenchNowMs);
  if (!opened.ok()) return opened.error();

  BenchState state;
  state.ledger = opened.value().get();
  state.total = options.pairs;
  const size_t chains = options.submitters == 0 ? 1 : options.submitters;
  state.chains_running = chains;
  const uint64_t batches_before = batches->load();
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t c = 0; c < chains; ++c) start_pair(state, c);
  {
    std::unique_lock lock(state.mu);
    state.cv.wait(lock, [&] { return state.chains_running == 0; });
  }
  const auto t1 = std::chrono::steady_clock::now();
  opened.value().reset();  // join the writer before `state` goes out of scope
  if (state.error) return *state.error;

  LedgerBenchResult r;
  r.pairs = state.completed.load();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.pairs_per_second = r.seconds > 0 ? static_cast<double>(r.pairs) / r.seconds : 0;
  r.batches = batches->load() - batches_before;
  r.ops_per_batch = r.batches > 0 ? 2.0 * static_cast<double>(r.pairs) / static_cast<double>(r.batches) : 0;
  return r;
}

}  // namespace tollgate::tollbench
