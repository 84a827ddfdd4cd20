// One flush per durable commit for the LMDB ledger (internal to the LMDB
// backend; owned by LmdbEnv).
//
// A durable LMDB commit flushes twice: the data pages, then the meta page
// that points at them. While the ledger's writer runs, LmdbRedo makes a
// commit durable with one flush instead: LMDB commits without syncing
// (MDB_NOSYNC), and the commit's changes (every put and delete, in order)
// are appended to the redo log (redo_log.h), which flushes once. Only then
// does the writer release the batch's waiters, so the invariants of
// lmdb_ledger.h hold as before: a reservation is on disk before the
// request leaves, a charge before the reply. (Readers in other threads
// may see a commit a moment before its flush returns, as they could see
// LMDB's own meta page before its flush returned.)
//
// Checkpoints. Every `checkpoint_every` records the writer hands the
// checkpointer thread the last commit's meta page; it fdatasyncs the LMDB
// file, then writes a log header naming that meta page and the first
// record after it. Records before it may then be overwritten. A commit
// that finds the ring full is made durable by a checkpoint on the writer
// thread instead.
//
// Why the checkpoint's tree survives a power cut. Without syncs the meta
// pages LMDB wrote since may reach the disk before the pages they point
// at, so LMDB's own choice of meta cannot be trusted after a cut. Two
// things make the checkpoint's tree trustworthy: the writer holds a read
// transaction on each checkpoint until a newer one is on disk, so LMDB
// never reuses that tree's pages; and recovery (restore(), before LMDB
// opens the file) writes the checkpoint's meta page back into the file.
// LMDB then opens on the checkpoint, and replay() applies the records
// after it in one durable transaction. A SIGKILL and a power cut recover
// the same way; after a clean stop LMDB is synced and the log inactive.
//
// One process. The log is locked (flock) while open: a second process
// (a tool, or a second ledger in tests) leaves it alone and runs on LMDB's
// own durable commits. Commits another process makes while the log is on
// are durable on their own but not in the log: the next commit that sees
// them checkpoints at once (a crash before that loses them).
//
// Active or not. The log header says whether unsynced commits may exist.
// Before the writer starts (open, recovery batches) and after it stops,
// LMDB commits are durable on their own and the header says inactive, so
// a tool that writes the ledger directly (tollctl migrate-ledger) never
// has its writes undone by a stale checkpoint.
//
// Threads: restore() and replay() on the opening thread before any other;
// start() before the writer thread starts, stop() after it has stopped;
// committed() on the writer thread. The checkpointer thread only syncs
// and writes headers.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "daemon/core/sync.h"
#include "daemon/ledger/lmdb/redo_log.h"
#include "protocol/error.h"

namespace tollgate::ledger::detail {

class LmdbEnv;

// A commit's changes, as the redo log keeps them.
void redo_put(std::string& out, size_t table, std::string_view key, std::string_view value);
void redo_del(std::string& out, size_t table, std::string_view key);

class LmdbRedo {
 public:
  static constexpr uint64_t kCheckpointEvery = 64;

  // Before mdb_env_open: opens (or creates) dir/redo.log and, when it is
  // active, writes its checkpoint's meta page back into dir/data.mdb.
  static protocol::Result<std::unique_ptr<LmdbRedo>> restore(
      const std::string& dir, uint64_t max_ring = RedoLog::kMaxRing);
  ~LmdbRedo();
  LmdbRedo(const LmdbRedo&) = delete;
  LmdbRedo& operator=(const LmdbRedo&) = delete;

  // After LMDB opened (tables ready): applies the records after the
  // checkpoint in one durable transaction and marks the log inactive.
  // Returns how many records were applied.
  protocol::Result<size_t> replay(LmdbEnv& env);

  // Turns the log on: checkpoint at the last commit, MDB_NOSYNC, the
  // checkpointer thread. false (error says why): LMDB stays durable alone.
  bool start(MDB_env* env, uint64_t checkpoint_every, std::string& error);
  // Turns it off: syncs LMDB, marks the log inactive. Idempotent.
  void stop();
  bool active() const { return env_ != nullptr; }

  // Writer thread, after LMDB committed a transaction (unsynced) with
  // these changes (not empty): returns once they are durable. An I/O
  // error exits the process (lmdb_ledger.h: the next open recovers).
  void committed(std::string_view changes);

 private:
  struct Pending {
    uint64_t txn_id = 0;
    RedoLog::Header header;
  };

  LmdbRedo() = default;
  // The first bytes of txn_id's meta page, read back from the file.
  bool read_meta(uint64_t txn_id, std::string& meta, std::string& error) const;
  // A checkpoint at the last commit (not in the log), now.
  void checkpoint_now();
  // Pins the last committed transaction (a read transaction, so LMDB
  // never reuses its pages) and reads its meta page into meta: a
  // checkpoint's tree. Returns its id.
  uint64_t pin_latest(std::string& meta);
  void release_pins(uint64_t below);
  void checkpointer_loop();
  [[noreturn]] void fail(const std::string& what) const;

  std::string dir_;
  std::unique_ptr<RedoLog> log_;  // null: another process has it
  MDB_env* env_ = nullptr;  // set while active
  int data_fd_ = -1;
  size_t page_size_ = 0;
  uint64_t checkpoint_every_ = kCheckpointEvery;

  // Writer thread.
  uint64_t last_txn_ = 0;  // the last commit this process made
  bool warned_others_ = false;
  uint64_t since_checkpoint_ = 0;
  std::deque<std::pair<uint64_t, MDB_txn*>> pins_;  // read transactions on checkpoints, oldest first

  std::atomic<uint64_t> durable_txn_{0};  // the newest checkpoint whose header is on disk
  Mutex mu_;
  CondVar cv_{mu_};
  std::optional<Pending> pending_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread checkpointer_;
};

}  // namespace tollgate::ledger::detail
