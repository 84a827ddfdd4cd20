// The LMDB ledger: the Ledger (daemon/ledger/ledger.h) of tollgated, durable
// in an LMDB environment.
//
// DESIGN
// One LMDB environment in a directory (one per process: LMDB forbids
// opening the same environment twice in a process; tollgated also holds a
// DataDirLock on the directory, data_dir_lock.h, so no other daemon opens
// it). A map another process grew (MDB_MAP_RESIZED) is adopted by the next
// transaction. Named tables, keys and values (the layout is versioned by
// meta.schema = kSchemaVersion):
//
//   meta          ascii name          -> "schema" u32, "period" "YYYY-MM",
//                                        "next_reservation" u64,
//                                        "log_seq" u64   (host byte order),
//                                        "prune_cursor" idempotency key
//                                        where the expiry sweep resumes
//   usage         "YYYY-MM\0scope\0provider"  (scope: agent or "*")
//                                     -> UsageRow: used, reserved, requests,
//                                        cleared (u64), cost_usd and
//                                        reserved_usd (f64), 48 bytes, host
//                                        byte order (rows of 40 bytes, from
//                                        before reserved_usd, read it as 0)
//   reservations  id u64 big-endian   -> msgpack [agent, provider, period,
//                                        request_id, amount, created_ms,
//                                        full_cost_usd]  (older records: the
//                                        first six; added without a schema bump)
//   alerts_fired  "YYYY-MM\0scope\0provider\0" + level byte -> at_ms i64
//   alerts_log    at_ms i64 BE (sign-flipped) + log_seq u64 BE -> msgpack alert
//   resets        at_ms BE + log_seq BE -> msgpack [at_ms, agent, provider,
//                                        period, cleared]  (the audit trail)
//   idempotency   "agent\0key"        -> msgpack [state, expiry_ms, received_ms,
//                                        fingerprint, reservation_id, reply,
//                                        reply_bytes]  (state "pending", "done"
//                                        or "too_large"; IdempotencyRecord). A
//                                        record of an older tollgated,
//                                        [expiry_ms, reply], reads as "done"
//                                        without a fingerprint.
//   rate_day      "provider\0" + day i64 BE -> u64 request count
//   rate_minute   provider            -> i64 send times (host byte order) of
//                                        the provider's last minute of
//                                        attempts, ascending (added without
//                                        a schema bump: an older build
//                                        leaves the table alone)
//   ledger_log    at_ms BE + log_seq BE -> msgpack [kind, at_ms, log_seq, fields]
//                                        (every `ledger` event: reset, rollover,
//                                        recovered; added without a schema bump)
//
// Strings keys sort by period, then scope, then provider, so one cursor
// range lists a period's agents or an agent's providers. Agent and provider
// names never contain NUL (the protocol restricts ai_name; provider names
// come from the configuration). Host byte order: LMDB files are not
// portable across architectures either.
//
// Writes. One writer thread owns every write transaction. Operations from
// any thread queue up; the writer takes everything queued (up to
// max_batch_ops), applies the operations one by one in ONE transaction —
// each sees the effects of those before it, and one whose own checks fail
// (does not fit, unknown reservation) gets its own outcome without
// affecting the rest — commits durably, and only then runs the callbacks
// (group commit). While the writer runs, a commit is made durable by one
// flush of the redo log (redo.log, lmdb_redo.h) instead of LMDB's two. MDB_MAP_FULL, from a put or from the commit
// itself, doubles the map (with every reader excluded: readers hold a
// shared lock while their transaction is open; the lock is
// writer-preferring, so once a growth waits no new reader starts, and the
// growth waits at most grow_wait for the readers already in, else the
// batch fails as below) and redoes the batch. Any other failure fails
// every operation of the batch with the Error and makes the ledger
// degraded: later writes are refused until a probe write (every
// probe_interval, or Ledger::probe) succeeds. Reads keep working.
// MDB_PANIC, from a batch or from a probe write, logs and exits the
// process so systemd restarts it.
//
// Settlements are never lost to a degraded ledger: a commit or release in
// a batch that failed, or submitted while degraded, is answered at once
// with deferred = true (ledger_types.h) and kept, in arrival order, by the
// writer. After the next successful probe write they are applied first,
// in one batch of their own, each exactly once (a failing batch keeps them
// all for the next recovery), and on_late_settlement reports each one.
// The reservations they settle stay in LMDB until then, so a crash before
// recovery charges them in full at the next open, as any leftover.
//
// The accounting itself is daemon/ledger/accounting.h: each operation of a
// batch reads its rows from the write transaction (lmdb_rows.h), and the
// rows it hands back are written in the same transaction.
//
// Threads. Callbacks of the *_async methods run on the writer thread once
// their batch is durable. Reads run in their own read-only transaction
// (MDB_NOTLS) on the caller's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/row_ledger.h"

namespace tollgate::ledger {

inline constexpr uint32_t kSchemaVersion = 1;

struct LmdbLedgerOptions : LedgerOptions {
  std::string dir;  // created if missing; holds data.mdb, lock.mdb and redo.log
  size_t initial_map_bytes = size_t{64} << 20;
  size_t max_map_bytes = size_t{1} << 40;  // the map doubles up to this
  // Operations per write transaction; 1 turns group commit off.
  size_t max_batch_ops = 4096;
  // false opens with MDB_NOSYNC: no fsync at all. For tests and benchmarks
  // only; a crash can then lose acknowledged writes.
  bool durable = true;
  // Durable commits through the redo log (lmdb_redo.h), with a checkpoint
  // every this many commits; false: every commit flushes LMDB itself.
  bool redo_log = true;
  uint64_t redo_checkpoint_every = 64;
  // The most redo.log's ring of records grows to (a new one starts at
  // 1 MiB, or this when smaller). Tests make it small.
  uint64_t redo_max_ring_bytes = uint64_t{64} << 20;
  // While degraded, how often the writer tries a probe write.
  std::chrono::milliseconds probe_interval{1000};
  // How long a map growth waits for read transactions already open to end
  // (no new one starts while it waits); after that the batch fails and the
  // ledger is degraded, with that reason.
  std::chrono::milliseconds grow_wait{10000};
  // Metrics: called on the writer thread after every durable batch with its
  // number of operations and how long the commit (the fsync) took.
  std::function<void(size_t ops, double commit_seconds)> on_batch;
  // Tests: called on the writer thread after every durable batch.
  std::function<void()> after_batch;
  // Tests: called before each commit; a non-zero errno-style code fails
  // that commit as if LMDB had returned it.
  std::function<int()> commit_fault;
  // Tests: called on the writer thread before each batch of operations is
  // applied (not before probes); blocking in it delays the batch.
  std::function<void()> before_batch;
  // Tests: called on the reading thread inside every read transaction of
  // the read methods, while it holds the map shared.
  std::function<void()> inside_read;
};

class LmdbLedger final : public RowLedger {
 public:
  // Opens (creating if needed) the ledger in options.dir, checks the
  // schema, runs recovery and the period check at now_ms (see report()),
  // and starts the writer. One clear Error when the directory cannot be
  // created or written, or the schema is newer than this build.
  static Result<std::unique_ptr<LmdbLedger>> open(LmdbLedgerOptions options, BudgetPolicy policy,
                                                  int64_t now_ms);
  // Runs every queued operation, stops the writer, closes the environment.
  ~LmdbLedger() override;

  const OpenReport& report() const override;
  void set_policy(BudgetPolicy policy) override;
  std::shared_ptr<const BudgetPolicy> policy() const override;

  void cancel_waits() override;
  std::map<std::string, uint64_t> waiting() const override;
  LedgerHealth health() const override;
  bool degraded() const override;

  Result<void> read_rows(const RowReader& reader) const override;
  // As RowLedger's, but kept per agent until the next write commits or the
  // policy changes (the exact same answer, without reading rows).
  Result<BudgetSnapshot> snapshot(const std::string& agent, int64_t now_ms) const override;

  // Current map size in bytes (grows by itself).
  size_t map_size() const;

  struct Impl;

 protected:
  void submit(detail::WriteOp op) override;

 private:
  explicit LmdbLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::ledger
