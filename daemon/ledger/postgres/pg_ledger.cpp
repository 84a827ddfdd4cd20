// The PostgreSQL ledger's writer batches, leases and reads (pg_ledger.h
// DESIGN).
#include "daemon/ledger/postgres/pg_ledger.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/ledger/batch_writer.h"
#include "daemon/ledger/kept_snapshots.h"
#include "daemon/ledger/postgres/alert_listener.h"
#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_rows.h"
#include "daemon/ledger/postgres/pg_schema.h"
#include "daemon/ledger/postgres/settlement_spool.h"

namespace tollgate::ledger {
namespace {

using detail::WriteOp;
using pg::PgConn;
using pg::PgError;
using pg::quote_ident;
using pg::PgParam;

// Beyond this many cached rows the writer starts its cache afresh.
constexpr size_t kMaxCachedRows = 100000;
// How often reservations waiting for room look again: other daemons'
// settlements free room without telling this one.
constexpr std::chrono::milliseconds kWaiterPoll{50};
// The change log is pruned every this many generations.
constexpr int64_t kPruneEvery = 500;
// Idle readers' connections kept open.
constexpr size_t kMaxIdleReaders = 4;

detail::BatchWriterOptions batch_options(const PgLedgerOptions& o) {
  detail::BatchWriterOptions w;
  w.max_batch_ops = o.max_batch_ops;
  w.probe_interval = o.probe_interval;
  w.tick_interval = std::chrono::duration_cast<std::chrono::milliseconds>(o.lease) / 3;
  w.waiter_poll = kWaiterPoll;
  w.on_late_settlement = o.on_late_settlement;
  w.after_batch = o.after_batch;
  return w;
}

}  // namespace

struct PgLedger::Impl final : detail::BatchWriter {
  explicit Impl(PgLedgerOptions opts)
      : BatchWriter(batch_options(opts)), options(std::move(opts)) {}
  ~Impl() override {
    listener.reset();
    stop();
  }

  PgLedgerOptions options;
  OpenReport report;
  std::unique_ptr<pg::SettlementSpool> spool;  // with a spool_dir

  // Writer thread only (or the opening thread before start()).
  std::unique_ptr<PgConn> writer_conn;
  pg::RowCache cache;
  pg::RecoveryScope scope = pg::RecoveryScope::kOwn;
  // When the writer's connection was last (re)made: expired leases are
  // charged only a whole lease after it (pg_ledger.h).
  SteadyClock::time_point connected_at = SteadyClock::now();
  SteadyClock::time_point last_renewal = SteadyClock::now();
  // The reservations this daemon's committed batches opened and have not
  // settled: the only leases it renews.
  std::set<uint64_t> open_reservations;

  // With on_remote_alert; last member, so it stops before the rest goes.
  std::unique_ptr<pg::AlertListener> listener;

  // PgLedger::snapshot's reuse: per agent, what was read and when.
  mutable detail::KeptSnapshots<SteadyClock::time_point> snapshots;

  mutable Mutex readers_mu;
  mutable std::vector<std::unique_ptr<PgConn>> idle_readers GUARDED_BY(readers_mu);

  std::unique_ptr<PgConn> connect() const {
    auto conn = PgConn::connect(options.uri, options.statement_timeout_ms);
    if (!options.schema.empty()) conn->exec("SET search_path TO " + quote_ident(options.schema));
    return conn;
  }

  void ensure_writer() {
    if (writer_conn && writer_conn->usable()) return;
    writer_conn = connect_writer();
    connected_at = SteadyClock::now();
  }

  std::unique_ptr<PgConn> connect_writer() const {
    auto conn = connect();
    if (!options.durable) conn->exec("SET synchronous_commit TO off");
    return conn;
  }

  // `recovery` matters to the writer's recovery batches only; readers
  // (any thread) pass the default rather than read the writer's `scope`.
  pg::PgRowsConfig rows_config(pg::RecoveryScope recovery) const {
    return pg::PgRowsConfig{options.daemon_id, options.lease.count(), recovery, -1,
                            pg::alert_channel(options.schema)};
  }

  // The writer's connection after a failure: kept when it can still roll
  // back, else dropped (the next batch connects again).
  void abandon_transaction() {
    cache.clear();
    if (!writer_conn) return;
    try {
      if (writer_conn->usable()) {
        if (writer_conn->in_transaction()) writer_conn->exec("ROLLBACK");
        return;
      }
    } catch (const PgError& e) {
      spdlog::debug("ledger: rollback failed: {}", e.what());
    }
    writer_conn.reset();
  }

  bool write_batch(std::vector<WriteOp>& batch, const accounting::AdmissionClock& clock,
                   std::string& reason) override {
    const auto pol = current_policy();
    try {
      if (options.write_fault) {
        if (std::string fault = options.write_fault(); !fault.empty()) {
          throw PgError("PostgreSQL ledger (injected): " + fault, false);
        }
      }
      ensure_writer();
      // One round trip: the generation is read by a statement of its own,
      // after the lock, so its snapshot sees every batch committed before.
      const auto begun = writer_conn->exec(std::string("BEGIN;") + pg::kLockSql +
                                           ";SELECT generation::text FROM tollgate_state");
      const int64_t generation = std::stoll(begun.text(0, 0));
      if (cache.rows.size() > kMaxCachedRows) cache.clear();
      pg::refresh(*writer_conn, cache, generation);
      if (generation % kPruneEvery == 0) pg::prune_changes(*writer_conn, generation);
      auto config = rows_config(scope);
      config.generation = generation + 1;
      pg::PgRows rows(*writer_conn, cache, std::move(config));
      detail::BatchApplier applier(rows, *pol, clock);
      for (auto& op : batch) applier.apply(op);
      applier.finish();
      rows.flush();
      // Under the lock no one else bumps it: ours is generation + 1.
      writer_conn->exec("UPDATE tollgate_state SET generation = generation + 1;COMMIT");
      if (options.lost_commit && options.lost_commit()) {
        throw PgError("PostgreSQL ledger (injected): connection lost at COMMIT", true);
      }
      cache.generation = generation + 1;
      for (uint64_t id : rows.reservations_put()) open_reservations.insert(id);
      for (uint64_t id : rows.reservations_deleted()) open_reservations.erase(id);
      return true;
    } catch (const PgError& e) {
      abandon_transaction();
      reason = std::string("PostgreSQL ledger write failed: ") + e.what();
      return false;
    }
  }

  // Twice when needed: the first attempt may find the connection of
  // before an outage dead, the second connects afresh.
  bool write_probe() override {
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::vector<WriteOp> probe;
      probe.push_back(detail::probe_op({}));
      std::string reason;
      if (write_batch(probe, {}, reason)) return true;
      if (writer_conn) return false;  // not a lost connection
    }
    return false;
  }

  void kept_changed(const std::vector<WriteOp>& kept) override {
    if (spool) spool->save(kept);
  }

  void tick(SteadyClock::time_point now) override {
    if (degraded() || now - last_renewal < options.lease / 3) return;
    last_renewal = now;
    try {
      ensure_writer();
      renew_leases();
      if (now - connected_at < options.lease) return;  // the others may not be back yet
      const auto expired =
          writer_conn->query("SELECT count(*)::int8 FROM tollgate_reservations WHERE "
                             "lease_until < now()", {});
      if (expired.i64(0, 0) > 0) settle_expired();
    } catch (const PgError& e) {
      spdlog::warn("ledger: lease renewal failed: {}", e.what());
      abandon_transaction();
    }
  }

  // Extends the leases of the reservations this daemon knows are open.
  void renew_leases() {
    if (open_reservations.empty()) return;
    std::string ids = "{";
    for (uint64_t id : open_reservations) {
      if (ids.size() > 1) ids.push_back(',');
      ids.append(std::to_string(id));
    }
    ids.push_back('}');
    const auto renewed = writer_conn->query(
        "UPDATE tollgate_reservations SET lease_until = now() + $2::int8 * interval '1 second' "
        "WHERE owner = $1 AND id = ANY($3::int8[]) RETURNING id",
        {PgParam::text(options.daemon_id), PgParam::num(options.lease.count()),
         PgParam::text(std::move(ids))});
    // One settled by a batch whose answer was lost is gone: forget it.
    std::set<uint64_t> still_open;
    for (int i = 0; i < renewed.rows(); ++i) {
      still_open.insert(static_cast<uint64_t>(renewed.i64(i, 0)));
    }
    open_reservations = std::move(still_open);
  }

  // Charges expired leases in full (a dead daemon's, or this one's lost
  // ones), once (under the lock: another daemon doing the same finds them
  // gone).
  void settle_expired() {
    std::vector<WriteOp> batch;
    detail::RecoverOp recover;
    recover.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    recover.exclusive = false;
    recover.done = [](Result<OpenReport> r) {
      if (r && r.value().recovered_tokens > 0) {
        spdlog::warn("ledger: charged {} tokens of expired leases of another daemon",
                     r.value().recovered_tokens);
      }
    };
    batch.emplace_back(std::move(recover));
    scope = pg::RecoveryScope::kExpired;
    run_batch(batch);
    scope = pg::RecoveryScope::kOwn;
  }

  std::unique_ptr<PgConn> take_reader() const {
    {
      MutexLock lock(readers_mu);
      if (!idle_readers.empty()) {
        auto conn = std::move(idle_readers.back());
        idle_readers.pop_back();
        if (conn->usable()) return conn;
      }
    }
    return connect();
  }

  void give_back(std::unique_ptr<PgConn> conn) const {
    MutexLock lock(readers_mu);
    if (idle_readers.size() < kMaxIdleReaders) idle_readers.push_back(std::move(conn));
  }
};

// ---- PgLedger

PgLedger::PgLedger(std::unique_ptr<Impl> impl)
    : RowLedger(impl->options.prune_rows_per_step), impl_(std::move(impl)) {}
PgLedger::~PgLedger() = default;

namespace {

// Applies the settlements a previous run spooled (it crashed while the
// database was down), before recovery charges their reservations in full.
Result<void> apply_spooled(PgLedger::Impl& impl) {
  auto spooled = impl.spool->load();
  if (!spooled) return spooled.error();
  if (spooled.value().empty()) return {};
  auto& batch = spooled.value();
  spdlog::warn("ledger: applying {} settlements spooled while PostgreSQL was unreachable",
               batch.size());
  impl.run_batch(batch);
  if (impl.degraded()) return Error::internal(impl.health().reason);
  detail::report_late(detail::late_settlements(batch), impl.options.on_late_settlement);
  impl.spool->save({});
  return {};
}

}  // namespace

Result<std::unique_ptr<PgLedger>> PgLedger::open(PgLedgerOptions options, BudgetPolicy policy,
                                                 int64_t now_ms) {
  if (options.max_batch_ops == 0) options.max_batch_ops = 1;
  if (options.daemon_id.empty()) return Error::internal("PostgreSQL ledger needs a daemon id");
  const std::string where = pg::redact(options.uri);
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->replace_policy(std::move(policy));
  try {
    impl->writer_conn = impl->connect_writer();
    if (!impl->options.schema.empty()) {
      impl->writer_conn->exec("CREATE SCHEMA IF NOT EXISTS " + quote_ident(impl->options.schema));
    }
    if (auto newer = pg::migrate(*impl->writer_conn)) return Error::internal(*newer);
  } catch (const PgError& e) {
    return Error::internal("cannot open ledger in PostgreSQL at " + where + ": " + e.what());
  }
  if (!impl->options.spool_dir.empty()) {
    impl->spool = std::make_unique<pg::SettlementSpool>(impl->options.spool_dir);
    if (auto applied = apply_spooled(*impl); !applied) return applied.error();
  }
  if (impl->options.recover_on_open) {
    auto batch = detail::open_batch(now_ms, /*exclusive=*/false);
    impl->run_batch(batch);
    auto report = detail::open_report(batch);
    if (!report) return report.error();
    impl->report = std::move(report.value());
  }
  impl->start();
  if (impl->options.on_remote_alert || impl->options.on_remote_record) {
    const Impl* raw = impl.get();
    impl->listener = std::make_unique<pg::AlertListener>(
        [raw] {
          if (raw->options.before_listen) raw->options.before_listen();
          return raw->connect();
        },
        pg::alert_channel(impl->options.schema),
        impl->options.daemon_id, impl->options.on_remote_alert,
        [raw, deliver = impl->options.on_remote_record](const LedgerRecord& record) {
          // Another daemon's set_limit or reset: the next plans read again.
          raw->snapshots.clear();
          if (deliver) deliver(record);
        });
  }
  return std::unique_ptr<PgLedger>(new PgLedger(std::move(impl)));
}

const OpenReport& PgLedger::report() const { return impl_->report; }

void PgLedger::set_policy(BudgetPolicy policy) { impl_->replace_policy(std::move(policy)); }

std::shared_ptr<const BudgetPolicy> PgLedger::policy() const { return impl_->current_policy(); }
void PgLedger::cancel_waits() { impl_->cancel_waits(); }
std::map<std::string, uint64_t> PgLedger::waiting() const { return impl_->waiting(); }
LedgerHealth PgLedger::health() const { return impl_->health(); }
bool PgLedger::degraded() const { return impl_->degraded(); }
void PgLedger::submit(WriteOp op) {
  // A limit set or a budget reset through this daemon shows in the next
  // call's plan.
  if (std::holds_alternative<detail::SetLimitOp>(op) || std::holds_alternative<detail::ResetOp>(op)) {
    impl_->snapshots.clear();
  }
  impl_->submit(std::move(op));
}

Result<BudgetSnapshot> PgLedger::snapshot(const std::string& agent, int64_t now_ms) const {
  const auto reuse = impl_->options.snapshot_reuse;
  const auto now = std::chrono::steady_clock::now();
  if (reuse.count() > 0) {
    auto fresh = [&](std::chrono::steady_clock::time_point read_at) { return now - read_at < reuse; };
    if (auto kept = impl_->snapshots.find(agent, now_ms, fresh)) return *kept;
  }
  auto read = RowLedger::snapshot(agent, now_ms);
  if (read && reuse.count() > 0) impl_->snapshots.keep(agent, now, *read);
  return read;
}

Result<void> PgLedger::read_rows(const RowReader& reader) const {
  const auto pol = impl_->current_policy();
  std::unique_ptr<PgConn> conn;
  // A pooled connection may have died with an outage since it was used:
  // one more try on a fresh one.
  for (int attempt = 0;; ++attempt) {
    try {
      conn = attempt == 0 ? impl_->take_reader() : impl_->connect();
      conn->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      pg::RowCache cache;
      const pg::PgRows rows(*conn, cache, impl_->rows_config(pg::RecoveryScope::kOwn));
      reader(rows, *pol);
      conn->exec("COMMIT");
      break;
    } catch (const PgError& e) {
      if (e.lost && attempt == 0) continue;
      return read_failure(e);
    }
  }
  impl_->give_back(std::move(conn));
  return {};
}

Result<void> PgLedger::read_failure(const PgError& e) const {
  if (!e.lost) return Error::internal(std::string("PostgreSQL ledger read failed: ") + e.what());
  // The database is unreachable: degraded (not ready) at once, before the
  // writer's next batch finds out; its probe clears that if it was only
  // this connection.
  const std::string reason = std::string("PostgreSQL ledger unreachable: ") + e.what();
  impl_->report_unreachable(reason);
  return Error::ledger_unavailable(reason, kLedgerRetryMs);
}

}  // namespace tollgate::ledger
