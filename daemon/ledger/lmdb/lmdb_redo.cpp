#include "daemon/ledger/lmdb/lmdb_redo.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "daemon/ledger/lmdb/lmdb_env.h"

namespace tollgate::ledger::detail {
namespace {

// LMDB 0.9's meta page (mdb.c: MDB_page header, then MDB_meta), on a
// 64-bit machine. Only its first bytes hold anything.
static_assert(sizeof(size_t) == 8 && sizeof(void*) == 8, "LMDB meta offsets assume 64 bits");
constexpr size_t kMetaBytes = 256;
constexpr size_t kMetaPgno = 0;     // mp_pgno: 0 or 1
constexpr size_t kMetaMagic = 16;   // mm_magic
constexpr size_t kMetaPsize = 40;   // mm_dbs[FREE_DBI].md_pad holds the page size
constexpr size_t kMetaTxnid = 144;  // mm_txnid
constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;

constexpr uint8_t kPut = 1;
constexpr uint8_t kDel = 2;

template <class T>
T field(std::string_view page, size_t at) {
  T v;
  std::memcpy(&v, page.data() + at, sizeof v);
  return v;
}
template <class T>
void set_field(std::string& page, size_t at, T v) {
  std::memcpy(page.data() + at, &v, sizeof v);
}

void append_u32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void change(std::string& out, uint8_t op, size_t table, std::string_view key,
            std::string_view value) {
  out.push_back(static_cast<char>(op));
  out.push_back(static_cast<char>(table));
  append_u32(out, static_cast<uint32_t>(key.size()));
  append_u32(out, static_cast<uint32_t>(value.size()));
  out.append(key);
  out.append(value);
}

// Applies one record's changes; false when they do not decode.
bool apply_changes(MDB_txn* txn, const Tables& tables, std::string_view in) {
  while (!in.empty()) {
    if (in.size() < 10) return false;
    const auto op = static_cast<uint8_t>(in[0]);
    const auto table = static_cast<uint8_t>(in[1]);
    const auto key_size = field<uint32_t>(in, 2);
    const auto value_size = field<uint32_t>(in, 6);
    in.remove_prefix(10);
    if (table >= Tables::kCount || in.size() < uint64_t{key_size} + value_size) return false;
    const std::string_view key = in.substr(0, key_size);
    const std::string_view value = in.substr(key_size, value_size);
    in.remove_prefix(key_size + value_size);
    if (op == kPut) {
      kv_put(txn, tables.at(table), key, value);
    } else if (op == kDel) {
      kv_del(txn, tables.at(table), key);
    } else {
      return false;
    }
  }
  return true;
}

std::string io_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

protocol::Error recovery_error(const std::string& dir, const std::string& what) {
  return protocol::Error::internal("cannot recover the ledger in " + dir + ": " + what);
}

bool read_exact(int fd, char* out, size_t size, uint64_t offset) {
  return ::pread(fd, out, size, static_cast<off_t>(offset)) == static_cast<ssize_t>(size);
}

}  // namespace

void redo_put(std::string& out, size_t table, std::string_view key, std::string_view value) {
  change(out, kPut, table, key, value);
}

void redo_del(std::string& out, size_t table, std::string_view key) {
  change(out, kDel, table, key, {});
}

LmdbRedo::~LmdbRedo() {
  stop();
  if (data_fd_ >= 0) ::close(data_fd_);
}

protocol::Result<std::unique_ptr<LmdbRedo>> LmdbRedo::restore(const std::string& dir,
                                                               uint64_t max_ring) {
  std::unique_ptr<LmdbRedo> self(new LmdbRedo());
  self->dir_ = dir;
  auto log = RedoLog::open(dir + "/redo.log", max_ring);
  if (!log) return log.error();
  self->log_ = std::move(log.value());
  if (!self->log_) {
    // A live process has it (tollgated, while this is a tool): LMDB is
    // consistent for us as it is, and the log is not ours to replay.
    spdlog::info("ledger: {}/redo.log is in use by another process; not touching it", dir);
    return self;
  }
  const RedoLog::Header header = self->log_->header();
  if (!header.active) return self;

  auto fail = [&](const std::string& what) { return recovery_error(dir, what); };
  const std::string& meta = header.meta;
  if (meta.size() != kMetaBytes || field<uint32_t>(meta, kMetaMagic) != kLmdbMagic) {
    return fail("redo.log's checkpoint is not an LMDB meta page");
  }
  const uint64_t txn_id = field<uint64_t>(meta, kMetaTxnid);
  const uint64_t page = field<uint32_t>(meta, kMetaPsize);
  const uint64_t slot = field<uint64_t>(meta, kMetaPgno);
  if (slot != (txn_id & 1) || page < kMetaBytes) return fail("redo.log's checkpoint is malformed");

  const std::string data = dir + "/data.mdb";
  const int fd = ::open(data.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(io_text(data.c_str()));
  // LMDB only moves forward from a checkpoint: a file whose newest meta is
  // older than it is not the one the log belongs to (a restored backup).
  uint64_t newest = 0;
  std::string on_disk(kMetaBytes, '\0');
  for (uint64_t i = 0; i < 2; ++i) {
    if (read_exact(fd, on_disk.data(), kMetaBytes, i * page) &&
        field<uint32_t>(on_disk, kMetaMagic) == kLmdbMagic) {
      newest = std::max(newest, field<uint64_t>(on_disk, kMetaTxnid));
    }
  }
  if (newest < txn_id) {
    ::close(fd);
    return fail("data.mdb (transaction " + std::to_string(newest) +
                ") is older than redo.log's checkpoint (transaction " + std::to_string(txn_id) +
                "); if data.mdb was restored from a backup, move redo.log away");
  }
  // The checkpoint in its own slot; in the other, the same tree one
  // transaction older, so LMDB opens on the checkpoint and its next commit
  // (txn_id + 1) takes the other slot as usual.
  std::string other = meta;
  set_field<uint64_t>(other, kMetaPgno, slot ^ 1);
  set_field<uint64_t>(other, kMetaTxnid, txn_id - 1);
  const bool written = ::pwrite(fd, meta.data(), kMetaBytes, static_cast<off_t>(slot * page)) ==
                           static_cast<ssize_t>(kMetaBytes) &&
                       ::pwrite(fd, other.data(), kMetaBytes,
                                static_cast<off_t>((slot ^ 1) * page)) ==
                           static_cast<ssize_t>(kMetaBytes) &&
                       ::fdatasync(fd) == 0;
  const std::string why = written ? std::string() : io_text("writing the checkpoint");
  ::close(fd);
  if (!written) return fail(why);
  spdlog::info("ledger: recovering {} from the checkpoint at transaction {}", dir, txn_id);
  return self;
}

protocol::Result<size_t> LmdbRedo::replay(LmdbEnv& env) {
  if (!log_) return size_t{0};
  const RedoLog::Header header = log_->header();
  auto records = log_->take_records();
  if (!header.active) return size_t{0};
  auto fail = [&](const std::string& what) { return recovery_error(dir_, what); };
  MDB_envinfo info{};
  mdb_env_info(env.env(), &info);
  const uint64_t checkpoint = field<uint64_t>(header.meta, kMetaTxnid);
  if (info.me_last_txnid != checkpoint) {
    return fail("LMDB opened on transaction " + std::to_string(info.me_last_txnid) +
                ", not the checkpoint's " + std::to_string(checkpoint));
  }
  for (int attempt = 0;; ++attempt) {
    try {
      WriteTxn txn(env);
      for (const auto& record : records) {
        if (!apply_changes(txn.get(), env.tables(), record.payload)) {
          return fail("record " + std::to_string(record.seq) + " does not decode");
        }
      }
      check(txn.commit(), "mdb_txn_commit");
      break;
    } catch (const MdbError& e) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      if (e.rc != MDB_MAP_FULL || attempt >= 40 ||
          env.grow(SIZE_MAX, deadline) != LmdbEnv::Growth::kGrown) {
        return fail(std::string("replaying redo.log: ") + e.what());
      }
    }
  }
  std::string error;
  if (!log_->write_header(log_->header_here(false), error)) return fail(error);
  spdlog::info("ledger: replayed {} redo records onto the checkpoint at transaction {}",
               records.size(), checkpoint);
  return records.size();
}

bool LmdbRedo::read_meta(uint64_t txn_id, std::string& meta, std::string& error) const {
  meta.assign(kMetaBytes, '\0');
  if (!read_exact(data_fd_, meta.data(), kMetaBytes, (txn_id & 1) * page_size_)) {
    error = io_text("reading the meta page");
    return false;
  }
  if (field<uint32_t>(meta, kMetaMagic) != kLmdbMagic ||
      field<uint64_t>(meta, kMetaTxnid) != txn_id ||
      field<uint32_t>(meta, kMetaPsize) != page_size_) {
    error = "meta page of transaction " + std::to_string(txn_id) + " is not where LMDB 0.9 keeps it";
    return false;
  }
  return true;
}

bool LmdbRedo::start(MDB_env* env, uint64_t checkpoint_every, std::string& error) {
  if (active()) return true;
  if (!log_) {
    error = "redo.log is in use by another process";
    return false;
  }
  int fd = -1;
  MDB_stat stat{};
  if (mdb_env_get_fd(env, &fd) != 0 || mdb_env_stat(env, &stat) != 0) {
    error = "cannot read the LMDB environment";
    return false;
  }
  if (data_fd_ < 0) data_fd_ = ::dup(fd);
  if (data_fd_ < 0) {
    error = io_text("dup");
    return false;
  }
  page_size_ = stat.ms_psize;
  checkpoint_every_ = checkpoint_every == 0 ? kCheckpointEvery : checkpoint_every;
  env_ = env;
  RedoLog::Header on = log_->header_here(true);
  // Pinned before the header names it: the tree must never be reused.
  const uint64_t txn_id = pin_latest(on.meta);
  if (mdb_env_sync(env, 1) != 0 || !log_->write_header(on, error)) {
    if (error.empty()) error = "cannot sync the LMDB file";
    release_pins(UINT64_MAX);
    env_ = nullptr;
    return false;
  }
  durable_txn_.store(txn_id);
  last_txn_ = txn_id;
  mdb_env_set_flags(env, MDB_NOSYNC, 1);
  {
    MutexLock lock(mu_);
    stopping_ = false;
  }
  checkpointer_ = std::thread([this] { checkpointer_loop(); });
  pthread_setname_np(checkpointer_.native_handle(), "tg-checkpoint");
  return true;
}

void LmdbRedo::stop() {
  if (!active()) return;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    pending_.reset();
  }
  cv_.signal_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  std::string error;
  if (mdb_env_sync(env_, 1) != 0) {
    // The log stays active: the next open recovers from the checkpoint.
    spdlog::error("ledger: syncing {} at stop failed; the next start recovers from redo.log", dir_);
  } else {
    mdb_env_set_flags(env_, MDB_NOSYNC, 0);
    if (!log_->write_header(log_->header_here(false), error)) {
      spdlog::error("ledger: marking {}/redo.log inactive failed: {}", dir_, error);
    }
  }
  release_pins(UINT64_MAX);
  env_ = nullptr;
}

void LmdbRedo::committed(std::string_view changes) {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  const uint64_t txn_id = info.me_last_txnid;
  const bool others = txn_id != last_txn_ + 1;
  last_txn_ = txn_id;
  if (others) {
    // Another process committed in between (an mdb_load into the live
    // directory): its writes are durable but not in this log, and a
    // recovery from an older checkpoint would undo them. Checkpoint now.
    if (!warned_others_) {
      spdlog::warn("ledger: another process wrote to {}; checkpointing at once (its writes are "
                   "not in redo.log)", dir_);
      warned_others_ = true;
    }
    checkpoint_now();
    return;
  }
  std::string error;
  switch (log_->append(changes, error)) {
    case RedoLog::Append::kDone:
      break;
    case RedoLog::Append::kFull:
      checkpoint_now();  // durable through the checkpoint instead
      return;
    case RedoLog::Append::kFailed:
      fail("appending to redo.log: " + error);
  }
  release_pins(durable_txn_.load());
  if (++since_checkpoint_ < checkpoint_every_) return;
  {
    MutexLock lock(mu_);
    if (busy_ || pending_) return;  // the next commit asks again
  }
  Pending next;
  next.header = log_->header_here(true);
  next.txn_id = pin_latest(next.header.meta);
  since_checkpoint_ = 0;
  {
    MutexLock lock(mu_);
    pending_ = std::move(next);
  }
  cv_.signal();
}

void LmdbRedo::checkpoint_now() {
  {
    // An older checkpoint still on its way would name the same first
    // record with an older tree: drop it and let the running one finish.
    MutexLock lock(mu_);
    pending_.reset();
    while (busy_) cv_.wait();
  }
  RedoLog::Header now = log_->header_here(true);
  const uint64_t txn_id = pin_latest(now.meta);
  if (mdb_env_sync(env_, 1) != 0) fail("syncing data.mdb");
  std::string error;
  if (!log_->write_header(now, error)) fail("writing redo.log's header: " + error);
  durable_txn_.store(txn_id);
  since_checkpoint_ = 0;
  release_pins(txn_id);
}

uint64_t LmdbRedo::pin_latest(std::string& meta) {
  for (int attempt = 0;; ++attempt) {
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) fail(std::string("pinning a checkpoint: ") + mdb_strerror(rc));
    const uint64_t txn_id = mdb_txn_id(txn);
    std::string error;
    if (read_meta(txn_id, meta, error)) {
      pins_.emplace_back(txn_id, txn);
      return txn_id;
    }
    mdb_txn_abort(txn);
    // Another process committed twice in between and took the slot.
    if (attempt == 8) fail(error);
  }
}

void LmdbRedo::release_pins(uint64_t below) {
  while (!pins_.empty() && pins_.front().first < below) {
    mdb_txn_abort(pins_.front().second);
    pins_.pop_front();
  }
}

void LmdbRedo::checkpointer_loop() {
  for (;;) {
    Pending job;
    {
      MutexLock lock(mu_);
      while (!stopping_ && !pending_) cv_.wait();
      if (stopping_) return;
      job = std::move(*pending_);
      pending_.reset();
      busy_ = true;
    }
    std::string error;
    if (::fdatasync(data_fd_) != 0) fail(io_text("fdatasync data.mdb"));
    if (!log_->write_header(job.header, error)) fail("writing redo.log's header: " + error);
    durable_txn_.store(job.txn_id);
    {
      MutexLock lock(mu_);
      busy_ = false;
    }
    cv_.signal_all();
  }
}

void LmdbRedo::fail(const std::string& what) const {
  // Like fsync failing in PostgreSQL: what LMDB holds may not be on disk
  // and nothing here can tell. Exit; the next open recovers from the log.
  exit_on_panic(dir_, what);
}

}  // namespace tollgate::ledger::detail
