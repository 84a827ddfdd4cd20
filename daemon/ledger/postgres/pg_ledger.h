// The PostgreSQL ledger: the Ledger (daemon/ledger/ledger.h) that several
// tollgateds share (PROTOCOL.md section 12, TOLLGATE_LEDGER=postgresql://…).
//
// DESIGN
// Rows: pg_schema.h (created and migrated at open; a newer schema is
// refused). Writes: the shared BatchWriter (daemon/ledger/batch_writer.h)
// hands each batch of queued operations to one PostgreSQL transaction on
// the writer's own connection: BEGIN, the ledger's advisory lock (every
// daemon's batches are serialized, so the accounting rules' reads and
// writes inside one are exact and no daemon can over-admit), the
// operations through the accounting rules over PgRows (pg_rows.h: cached
// point reads, buffered multi-row writes), the generation bump, COMMIT
// with synchronous_commit as the server has it (on). Only then are the
// callbacks run (group commit: one fsync for the whole batch).
//
// Leases. Each reservation row names its daemon (daemon_id) and a lease
// (lease_seconds, from the database's clock) that the writer renews every
// lease/3, for the reservations it knows are open: those its committed
// batches opened and have not settled. One whose COMMIT reached the server
// while the answer was lost (the call was refused) is not renewed, so it
// expires and is charged in full like a dead daemon's. At open a daemon
// charges in full the reservations its own previous run left (same
// daemon_id); while it runs, it charges expired leases (of a dead daemon,
// or its own lost ones) in a batch of their own, under the lock, so each
// is charged once. It does so only once its writer has been connected for
// a whole lease: after an outage of the database (or of this daemon's
// link to it) longer than a lease, every lease has expired, and the live
// daemons need that long to come back and renew theirs; a daemon that
// charged them at once would charge live calls in full.
//
// Faults. connect_timeout, keepalives and statement_timeout bound every
// call (pg_conn.h): an unreachable database fails the batch within
// seconds, and the writer is degraded (ledger.h): writes are refused at
// once without touching the database, settlements are answered deferred
// and kept, and a probe every probe_interval brings it back. With a
// spool_dir the kept settlements are also written to a local file
// (settlement_spool.h, fsync'd) so a crash while PostgreSQL is down loses
// none: the next open applies them before anything else.
//
// Threads. Callbacks run on the writer thread. Reads run on the caller's
// thread in a read-only REPEATABLE READ transaction on a connection taken
// from a small pool (never two threads on one connection).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/row_ledger.h"

namespace tollgate::ledger {

namespace pg {
struct PgError;
}

struct PgLedgerOptions : LedgerOptions {
  std::string uri;        // postgresql://user@host:port/db
  std::string schema;     // "" : the server's search_path (public)
  std::string daemon_id;  // whose leases; stable across restarts of one daemon
  std::chrono::seconds lease{30};
  // Where kept settlements are spooled while the database is down ("":
  // in memory only).
  std::string spool_dir;
  size_t max_batch_ops = 4096;
  std::chrono::milliseconds probe_interval{1000};
  int statement_timeout_ms = 5000;
  // false: the writer's commits do not wait for the WAL flush
  // (synchronous_commit off). Tests and benchmarks only: a crash of the
  // database can then lose acknowledged writes.
  bool durable = true;
  // An alert another daemon fired (its batch committed), for this
  // daemon's event stream; runs on the listener's thread (keep it cheap).
  std::function<void(const Alert&)> on_remote_alert;
  // The same for a `ledger` event record (reset, rollover, limit,
  // recovered) another daemon's batch wrote.
  std::function<void(const LedgerRecord&)> on_remote_record;
  // Tests: called on the writer thread after every durable batch.
  std::function<void()> after_batch;
  // Tests: called before each batch (probes included); a non-empty reason
  // fails it as a lost database would.
  std::function<std::string()> write_fault;
  // Tests: asked after each COMMIT; true fails the batch as a connection
  // lost after the server committed it (its answer never came).
  std::function<bool()> lost_commit;
  // Tests: called on the alert listener's thread before each connection
  // attempt; blocking in it keeps the listener disconnected.
  std::function<void()> before_listen;
  // How long a call's plan may use its agent's budgets as last read
  // (PgLedger::snapshot); 0: read them for every call.
  std::chrono::milliseconds snapshot_reuse{100};
};

class PgLedger final : public RowLedger {
 public:
  // Connects, creates or migrates the schema, applies the spooled
  // settlements, runs recovery and the period check at now_ms, and starts
  // the writer. One clear Error when the database cannot be reached or its
  // schema is newer than this build.
  static Result<std::unique_ptr<PgLedger>> open(PgLedgerOptions options, BudgetPolicy policy,
                                                int64_t now_ms);
  ~PgLedger() override;

  const OpenReport& report() const override;
  bool remote() const override { return true; }
  void set_policy(BudgetPolicy policy) override;
  std::shared_ptr<const BudgetPolicy> policy() const override;
  void cancel_waits() override;
  std::map<std::string, uint64_t> waiting() const override;
  LedgerHealth health() const override;
  bool degraded() const override;
  Result<void> read_rows(const RowReader& reader) const override;
  // A call's plan reads its agent's budgets: from the database at most
  // once per kSnapshotReuse per agent (a read is a transaction of several
  // round trips). The plan only orders and passes over providers; every
  // reservation is checked against the stored rows under the lock, so a
  // plan a little behind can cost a skip, never a limit. Set_limit and
  // reset made through this daemon drop what is kept at once.
  Result<BudgetSnapshot> snapshot(const std::string& agent, int64_t now_ms) const override;

  struct Impl;

 protected:
  void submit(detail::WriteOp op) override;

 private:
  explicit PgLedger(std::unique_ptr<Impl> impl);
  // A read that failed: ledger_unavailable (and a probe, so the writer
  // finds out) when the database is unreachable, else internal.
  Result<void> read_failure(const pg::PgError& e) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::ledger
