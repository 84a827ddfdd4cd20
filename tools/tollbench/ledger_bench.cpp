#include "tools/tollbench/ledger_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/ledger/ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/postgres/pg_ledger.h"
#include "tools/tollbench/floor_bench.h"

namespace tollgate::tollbench {
namespace {

using ledger::Ledger;

constexpr int64_t kBenchNowMs = 1731664800000;  // a fixed instant: one period
constexpr size_t kBenchAgents = 16;

// Shared by every chain; outlives them (the main thread waits for done).
class BenchState {
 public:
  std::vector<Ledger*> ledgers;  // chain c uses ledgers[c % size]
  Ledger& ledger_of(size_t chain) const { return *ledgers[chain % ledgers.size()]; }
  uint64_t total = 0;
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> completed{0};

  void start(size_t chains) {
    MutexLock lock(mu_);
    chains_running_ = chains;
  }
  void chain_finished(std::optional<protocol::Error> e) {
    MutexLock lock(mu_);
    if (e && !error_) error_ = std::move(e);
    if (--chains_running_ == 0) all_finished_.signal_all();
  }
  // Waits until every chain has finished; the first error, if any.
  std::optional<protocol::Error> wait() {
    MutexLock lock(mu_);
    while (chains_running_ > 0) all_finished_.wait();
    return error_;
  }

 private:
  Mutex mu_;
  CondVar all_finished_{mu_};
  size_t chains_running_ GUARDED_BY(mu_) = 0;
  std::optional<protocol::Error> error_ GUARDED_BY(mu_);
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
  s.ledger_of(chain).commit_async(ledger::CommitRequest{r->reservation_id, 60, 40, 0.0001, kBenchNowMs},
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
  s.ledger_of(chain).reserve_async(std::move(req),
                          [&s, chain](auto r) { on_reserved(s, chain, std::move(r)); });
}

ledger::BudgetPolicy bench_policy() {
  ledger::BudgetPolicy policy;
  policy.providers = {"anthropic", "openai"};
  policy.agent_limit = [](const std::string&, const std::string&) { return uint64_t{1} << 60; };
  policy.global_limit = [](const std::string&) -> std::optional<uint64_t> {
    return uint64_t{1} << 62;
  };
  return policy;
}

// The ledgers under test: one LMDB ledger, or `daemons` PostgreSQL ledgers
// on one database (each as one tollgated would open it).
protocol::Result<std::vector<std::unique_ptr<Ledger>>> open_ledgers(
    const LedgerBenchOptions& options, const std::shared_ptr<std::atomic<uint64_t>>& batches) {
  std::vector<std::unique_ptr<Ledger>> out;
  if (options.postgres.empty()) {
    ledger::LmdbLedgerOptions lo;
    lo.dir = options.dir;
    lo.durable = options.durable;
    lo.max_batch_ops = options.group_commit ? 4096 : 1;
    lo.after_batch = [batches] { (*batches)++; };
    auto opened = ledger::LmdbLedger::open(lo, bench_policy(), kBenchNowMs);
    if (!opened.ok()) return opened.error();
    out.push_back(std::move(opened.value()));
    return out;
  }
  for (size_t i = 0; i < std::max<size_t>(1, options.daemons); ++i) {
    ledger::PgLedgerOptions po;
    po.uri = options.postgres;
    po.schema = options.dir;  // a schema of its own
    po.daemon_id = "bench-" + std::to_string(i);
    po.durable = options.durable;
    po.max_batch_ops = options.group_commit ? 4096 : 1;
    po.after_batch = [batches] { (*batches)++; };
    auto opened = ledger::PgLedger::open(po, bench_policy(), kBenchNowMs);
    if (!opened.ok()) return opened.error();
    out.push_back(std::move(opened.value()));
  }
  return out;
}

}  // namespace

protocol::Result<LedgerBenchResult> run_ledger_bench(const LedgerBenchOptions& options) {
  auto batches = std::make_shared<std::atomic<uint64_t>>(0);
  auto opened = open_ledgers(options, batches);
  if (!opened.ok()) return opened.error();

  BenchState state;
  for (const auto& l : opened.value()) state.ledgers.push_back(l.get());
  state.total = options.pairs;
  const size_t chains = options.submitters == 0 ? 1 : options.submitters;
  state.start(chains);
  const uint64_t batches_before = batches->load();
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_us();
  for (size_t c = 0; c < chains; ++c) start_pair(state, c);
  const std::optional<protocol::Error> error = state.wait();
  const auto t1 = std::chrono::steady_clock::now();
  const double cpu = process_cpu_us() - cpu0;
  opened.value().clear();  // join the writers before `state` goes out of scope
  if (error) return *error;

  LedgerBenchResult r;
  r.pairs = state.completed.load();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.pairs_per_second = r.seconds > 0 ? static_cast<double>(r.pairs) / r.seconds : 0;
  r.batches = batches->load() - batches_before;
  r.cpu_us_per_pair = r.pairs > 0 ? cpu / static_cast<double>(r.pairs) : 0;
  r.ops_per_batch = r.batches > 0 ? 2.0 * static_cast<double>(r.pairs) / static_cast<double>(r.batches) : 0;
  return r;
}

}  // namespace tollgate::tollbench
