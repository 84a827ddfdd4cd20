#include "daemon/ledger/lmdb/lmdb_env.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

#include "daemon/ledger/lmdb/data_dir_lock.h"
#include "daemon/ledger/lmdb/lmdb_redo.h"

namespace tollgate::ledger::detail {
namespace {

constexpr unsigned kMaxDbs = 16;
constexpr unsigned kMaxReaders = 512;
// Begins after another process grew the map; more than one in a row means
// it keeps growing it while we try.
constexpr int kMaxMapAdoptions = 8;

std::string describe(int rc) { return mdb_strerror(rc); }

// Every table, in the order they are opened (Tables::at).
constexpr std::pair<const char*, MDB_dbi Tables::*> kTables[Tables::kCount] = {
    {"meta", &Tables::meta},
    {"usage", &Tables::usage},
    {"reservations", &Tables::reservations},
    {"alerts_fired", &Tables::alerts_fired},
    {"alerts_log", &Tables::alerts_log},
    {"resets", &Tables::resets},
    {"idempotency", &Tables::idempotency},
    {"rate_day", &Tables::rate_day},
    {"rate_minute", &Tables::rate_minute},
    {"ledger_log", &Tables::ledger_log},
    {"limits", &Tables::limits},
    {"usage_day", &Tables::usage_day},
    {"outbox", &Tables::outbox},
};

// mdb_txn_begin, adopting a map another process grew. `lock` is the
// caller's shared lock on env.resize_mu(), held on entry and on return.
int begin_txn(const LmdbEnv& env, unsigned flags, MDB_txn** txn,
              std::shared_lock<ResizeMutex>& lock) {
  int rc = mdb_txn_begin(env.env(), nullptr, flags, txn);
  for (int n = 0; rc == MDB_MAP_RESIZED && n < kMaxMapAdoptions; ++n) {
    lock.unlock();
    env.adopt_map_size();
    lock.lock();
    rc = mdb_txn_begin(env.env(), nullptr, flags, txn);
  }
  return rc;
}

}  // namespace

void ResizeMutex::lock_shared() {
  MutexLock lock(mu_);
  while (writer_ || writers_waiting_ > 0) cv_.wait();
  ++readers_;
}

void ResizeMutex::unlock_shared() {
  bool last = false;
  {
    MutexLock lock(mu_);
    last = --readers_ == 0;
  }
  if (last) cv_.signal_all();
}

void ResizeMutex::lock() {
  MutexLock lock(mu_);
  ++writers_waiting_;
  while (writer_ || readers_ > 0) cv_.wait();
  --writers_waiting_;
  writer_ = true;
}

bool ResizeMutex::try_lock_until(std::chrono::steady_clock::time_point deadline) {
  {
    MutexLock lock(mu_);
    ++writers_waiting_;
    while ((writer_ || readers_ > 0) && cv_.wait_until(deadline)) {
    }
    --writers_waiting_;
    if (!writer_ && readers_ == 0) {
      writer_ = true;
      return true;
    }
  }
  cv_.signal_all();  // readers held back by this waiter may start now
  return false;
}

void ResizeMutex::unlock() {
  {
    MutexLock lock(mu_);
    writer_ = false;
  }
  cv_.signal_all();
}

MDB_dbi Tables::at(size_t i) const { return this->*kTables[i].second; }

size_t Tables::index_of(MDB_dbi dbi) const {
  for (size_t i = 0; i < kCount; ++i) {
    if (at(i) == dbi) return i;
  }
  throw MdbError(EINVAL, "unknown table handle");
}

void exit_on_panic(const std::string& dir, const std::string& what) {
  spdlog::critical("ledger: cannot go on in {} ({}); exiting so systemd restarts tollgated", dir, what);
  spdlog::shutdown();
  std::_Exit(EXIT_FAILURE);
}

MdbError::MdbError(int code, const std::string& what)
    : std::runtime_error(what + ": " + describe(code)), rc(code) {}

void check(int rc, const char* what) {
  if (rc != 0) throw MdbError(rc, what);
}

protocol::Result<std::unique_ptr<LmdbEnv>> LmdbEnv::open(const std::string& dir,
                                                         size_t initial_map_bytes, bool durable,
                                                         uint64_t redo_max_ring) {
  using protocol::Error;
  if (auto prepared = prepare_data_dir(dir); !prepared) return prepared.error();
  std::unique_ptr<LmdbEnv> self(new LmdbEnv());
  self->dir_ = dir;
  auto fail = [&](int rc, const char* what) {
    return Error::internal(std::string("cannot open ledger in ") + dir + ": " + what + ": " +
                           describe(rc));
  };
  int rc = mdb_env_create(&self->env_);
  if (rc != 0) return fail(rc, "mdb_env_create");
  mdb_env_set_maxdbs(self->env_, kMaxDbs);
  mdb_env_set_maxreaders(self->env_, kMaxReaders);
  rc = mdb_env_set_mapsize(self->env_, initial_map_bytes);
  if (rc != 0) return fail(rc, "mdb_env_set_mapsize");
  if (durable) {
    auto redo = LmdbRedo::restore(dir, redo_max_ring);  // before LMDB reads the meta pages
    if (!redo) return redo.error();
    self->redo_ = std::move(redo.value());
  }
  unsigned flags = MDB_NOTLS;
  if (!durable) flags |= MDB_NOSYNC;
  rc = mdb_env_open(self->env_, dir.c_str(), flags, 0640);
  if (rc != 0) return fail(rc, "mdb_env_open");
  int dead = 0;
  mdb_reader_check(self->env_, &dead);
  if (dead > 0) spdlog::warn("ledger: cleared {} stale reader slots in {}", dead, dir);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(self->env_, nullptr, 0, &txn);
  if (rc != 0) return fail(rc, "mdb_txn_begin");
  for (const auto& [name, member] : kTables) {
    rc = mdb_dbi_open(txn, name, MDB_CREATE, &(self->tables_.*member));
    if (rc != 0) {
      mdb_txn_abort(txn);
      return fail(rc, name);
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return fail(rc, "creating tables");
  if (self->redo_) {
    if (auto replayed = self->redo_->replay(*self); !replayed) return replayed.error();
  }
  return self;
}

LmdbEnv::~LmdbEnv() {
  redo_.reset();  // syncs and releases its read transactions first
  if (env_ != nullptr) mdb_env_close(env_);
}

size_t LmdbEnv::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

LmdbEnv::Growth LmdbEnv::grow(size_t max_bytes, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(resize_mu_, std::defer_lock);
  if (!lock.try_lock_until(deadline)) return Growth::kBusy;  // no transaction is open once held
  const size_t current = map_size();
  if (current >= max_bytes) return Growth::kAtMax;
  const size_t next = current > max_bytes / 2 ? max_bytes : current * 2;
  const int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) {
    spdlog::error("ledger: growing the map to {} bytes failed: {}", next, describe(rc));
    return Growth::kFailed;
  }
  spdlog::info("ledger: map grown from {} to {} bytes", current, next);
  return Growth::kGrown;
}

void LmdbEnv::adopt_map_size() const {
  std::unique_lock lock(resize_mu_);  // no transaction is open in this process now
  const size_t before = map_size();
  const int rc = mdb_env_set_mapsize(env_, 0);
  if (rc != 0) {
    spdlog::error("ledger: adopting the map size another process set failed: {}", describe(rc));
    return;
  }
  spdlog::info("ledger: another process grew the map; adopted {} bytes (was {})", map_size(), before);
}

int LmdbEnv::reader_check() {
  int dead = 0;
  mdb_reader_check(env_, &dead);
  return dead;
}

ReadTxn::ReadTxn(const LmdbEnv& env) : lock_(env.resize_mu()) {
  check(begin_txn(env, MDB_RDONLY, &txn_, lock_), "mdb_txn_begin (read)");
}

ReadTxn::~ReadTxn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

WriteTxn::WriteTxn(const LmdbEnv& env) : lock_(env.resize_mu()) {
  check(begin_txn(env, 0, &txn_, lock_), "mdb_txn_begin (write)");
}

WriteTxn::~WriteTxn() { abort(); }

int WriteTxn::commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;  // freed by mdb_txn_commit whether or not it succeeds
  return mdb_txn_commit(txn);
}

void WriteTxn::abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

std::optional<std::string_view> kv_get(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  MDB_val v{0, nullptr};
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, "mdb_get");
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

void kv_put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put");
}

bool kv_del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  const int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  check(rc, "mdb_del");
  return true;
}

Cursor::Cursor(MDB_txn* txn, MDB_dbi dbi) { check(mdb_cursor_open(txn, dbi, &cur_), "mdb_cursor_open"); }

Cursor::~Cursor() { mdb_cursor_close(cur_); }

bool Cursor::step(MDB_cursor_op op) {
  const int rc = mdb_cursor_get(cur_, &k_, &v_, op);
  if (rc == MDB_NOTFOUND) return false;
  check(rc, "mdb_cursor_get");
  return true;
}

bool Cursor::seek(std::string_view key) {
  k_ = to_val(key);
  return step(MDB_SET_RANGE);
}
bool Cursor::first() { return step(MDB_FIRST); }
bool Cursor::last() { return step(MDB_LAST); }
bool Cursor::next() { return step(MDB_NEXT); }
bool Cursor::prev() { return step(MDB_PREV); }
void Cursor::del() { check(mdb_cursor_del(cur_, 0), "mdb_cursor_del"); }

}  // namespace tollgate::ledger::detail
