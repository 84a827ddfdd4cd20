// Thin RAII layer over LMDB for the ledger (internal to tollgate_ledger).
//
// LmdbEnv owns the MDB_env and the table handles. Every transaction holds
// a shared lock on resize_mu() for as long as it is open; grow() and
// adopt_map_size() take it exclusively, because mdb_env_set_mapsize may
// only run while no transaction is open in the process. Write transactions
// are begun only by the ledger's writer thread, which is also the only
// caller of grow(). The lock prefers resizes (ResizeMutex): a steady
// stream of reads cannot hold a growth off, so a thread must never open a
// second transaction while it holds one.
//
// Another process may grow the map (tollgated holds a lock on its data
// directory, but LMDB tools such as mdb_load may still write): a
// transaction that then finds the data beyond this process's map gets
// MDB_MAP_RESIZED from mdb_txn_begin. ReadTxn and WriteTxn adopt the new
// size (mdb_env_set_mapsize(env, 0)) and begin again.
//
// Helpers throw MdbError for an LMDB failure in the middle of a
// transaction (MDB_MAP_FULL, I/O error...): the writer catches it at the
// batch boundary, and read methods convert it to an Error. It never leaves
// tollgate_ledger.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "daemon/core/sync.h"
#include "protocol/error.h"

namespace tollgate::ledger::detail {

struct MdbError : std::runtime_error {
  MdbError(int code, const std::string& what);
  int rc;
};

// Throws MdbError(rc) when rc != 0.
void check(int rc, const char* what);

// LMDB's environment is unusable after MDB_PANIC, and after a failed sync
// nothing says what reached the disk: log, and exit so that systemd
// restarts tollgated, whose next open recovers from disk.
[[noreturn]] void exit_on_panic(const std::string& dir, const std::string& what);

class LmdbRedo;

struct Tables {
  static constexpr size_t kCount = 13;
  // The table at index i of the order they are opened in (the redo log
  // names tables by it), and the index of a handle.
  MDB_dbi at(size_t i) const;
  size_t index_of(MDB_dbi dbi) const;

  MDB_dbi meta = 0;
  MDB_dbi usage = 0;
  MDB_dbi reservations = 0;
  MDB_dbi alerts_fired = 0;
  MDB_dbi alerts_log = 0;
  MDB_dbi resets = 0;
  MDB_dbi idempotency = 0;
  MDB_dbi rate_day = 0;
  MDB_dbi rate_minute = 0;
  MDB_dbi ledger_log = 0;
  MDB_dbi limits = 0;
  MDB_dbi usage_day = 0;
  MDB_dbi outbox = 0;
};

// The resize lock: shared by every open transaction, exclusive for a map
// resize. Writer-preferring: while an exclusive lock is waiting, no new
// shared lock is granted, so it waits only for the transactions already
// open (glibc's std::shared_mutex prefers readers, and steady status reads
// could starve a growth for good). Meets SharedLockable (std::shared_lock)
// and Lockable (std::unique_lock). Any thread.
class ResizeMutex {
 public:
  void lock_shared();
  void unlock_shared();
  void lock();
  // lock(), giving up (false) at deadline.
  bool try_lock_until(std::chrono::steady_clock::time_point deadline);
  void unlock();

 private:
  Mutex mu_;
  CondVar cv_{mu_};
  size_t readers_ GUARDED_BY(mu_) = 0;
  size_t writers_waiting_ GUARDED_BY(mu_) = 0;
  bool writer_ GUARDED_BY(mu_) = false;
};

class LmdbEnv {
 public:
  // Creates dir if missing and opens the environment with MDB_NOTLS
  // (plus MDB_NOSYNC when !durable), opens/creates every table. Durable:
  // recovers through the redo log first (lmdb_redo.h), and keeps it.
  // redo_max_ring: the most the redo log's ring grows to.
  static protocol::Result<std::unique_ptr<LmdbEnv>> open(const std::string& dir,
                                                         size_t initial_map_bytes, bool durable,
                                                         uint64_t redo_max_ring = uint64_t{64} << 20);
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  MDB_env* env() const { return env_; }
  const Tables& tables() const { return tables_; }
  ResizeMutex& resize_mu() const { return resize_mu_; }
  const std::string& dir() const { return dir_; }
  // The redo log (durable environments only; null otherwise).
  LmdbRedo* redo() const { return redo_.get(); }

  size_t map_size() const;
  enum class Growth { kGrown, kAtMax, kFailed, kBusy };
  // Doubles the map (never above max_bytes). Writer thread only, with no
  // write transaction open. kBusy: read transactions still held the map
  // at `deadline`.
  Growth grow(size_t max_bytes, std::chrono::steady_clock::time_point deadline);
  // Clears reader slots of dead processes; returns how many.
  int reader_check();
  // Another process grew the map: adopt its size. Takes resize_mu()
  // exclusively, so the caller must hold no transaction. const: the map
  // belongs to LMDB, not to this object's state.
  void adopt_map_size() const;

 private:
  LmdbEnv() = default;
  MDB_env* env_ = nullptr;
  std::unique_ptr<LmdbRedo> redo_;  // stopped before env_ closes
  Tables tables_;
  std::string dir_;
  mutable ResizeMutex resize_mu_;
};

// A read-only transaction holding a shared lock on the resize mutex.
class ReadTxn {
 public:
  explicit ReadTxn(const LmdbEnv& env);  // throws MdbError
  ~ReadTxn();
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  MDB_txn* get() const { return txn_; }

 private:
  std::shared_lock<ResizeMutex> lock_;
  MDB_txn* txn_ = nullptr;
};

// A write transaction, holding a shared lock on the resize mutex until it
// is destroyed (the writer thread's own grow() runs between transactions).
// commit() consumes it whatever the outcome (LMDB frees a transaction whose
// commit failed), so the destructor aborts only a transaction that was
// never committed.
class WriteTxn {
 public:
  explicit WriteTxn(const LmdbEnv& env);  // throws MdbError
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  MDB_txn* get() const { return txn_; }
  int commit();  // mdb_txn_commit's rc
  void abort();

 private:
  std::shared_lock<ResizeMutex> lock_;  // released after the transaction ends
  MDB_txn* txn_ = nullptr;
};

// Key/value helpers; all throw MdbError for failures other than "not found".
std::optional<std::string_view> kv_get(MDB_txn* txn, MDB_dbi dbi, std::string_view key);
void kv_put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value);
bool kv_del(MDB_txn* txn, MDB_dbi dbi, std::string_view key);

// A cursor closed on scope exit.
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi);  // throws MdbError
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  // Positions at the first key >= key; false at the end.
  bool seek(std::string_view key);
  bool first();
  bool last();
  bool next();
  bool prev();
  std::string_view key() const { return {static_cast<const char*>(k_.mv_data), k_.mv_size}; }
  std::string_view value() const { return {static_cast<const char*>(v_.mv_data), v_.mv_size}; }
  void del();

 private:
  bool step(MDB_cursor_op op);
  MDB_cursor* cur_ = nullptr;
  MDB_val k_{0, nullptr};
  MDB_val v_{0, nullptr};
};

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

}  // namespace tollgate::ledger::detail
