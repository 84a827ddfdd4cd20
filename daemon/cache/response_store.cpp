#include "daemon/cache/response_store.h"

#include <lmdb.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <msgpack.hpp>

#include "daemon/ledger/lmdb/lmdb_env.h"

namespace tollgate::cache {

using ledger::detail::check;
using ledger::detail::Cursor;
using ledger::detail::kv_del;
using ledger::detail::kv_get;
using ledger::detail::kv_put;
using ledger::detail::MdbError;
using protocol::Error;

namespace fs = std::filesystem;

namespace {

constexpr const char* kCleanMarker = "clean";
constexpr const char* kBytesKey = "bytes";
constexpr size_t kStampBytes = 8;
constexpr uint64_t kMapSlackBytes = uint64_t{32} << 20;

std::string be64(uint64_t v) {
  std::string out(kStampBytes, '\0');
  for (size_t i = 0; i < kStampBytes; ++i)
    out[i] = static_cast<char>(v >> (8 * (kStampBytes - 1 - i)));
  return out;
}

uint64_t read_be64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < kStampBytes && i < s.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

std::string encode_value(const CachedAnswer& a) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack(a.provider);
  pk.pack(a.model);
  pk.pack(a.tokens);
  pk.pack_bin(static_cast<uint32_t>(a.reply.size()));
  pk.pack_bin_body(a.reply.data(), static_cast<uint32_t>(a.reply.size()));
  return be64(static_cast<uint64_t>(a.created_ms)) + std::string(buf.data(), buf.size());
}

std::optional<CachedAnswer> decode_value(std::string_view v) {
  if (v.size() < kStampBytes) return std::nullopt;
  CachedAnswer a;
  a.created_ms = static_cast<int64_t>(read_be64(v));
  try {
    auto handle = msgpack::unpack(v.data() + kStampBytes, v.size() - kStampBytes);
    const msgpack::object& o = handle.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 4) return std::nullopt;
    const msgpack::object* f = o.via.array.ptr;
    if (f[3].type != msgpack::type::BIN) return std::nullopt;
    f[0].convert(a.provider);
    f[1].convert(a.model);
    f[2].convert(a.tokens);
    a.reply.assign(f[3].via.bin.ptr, f[3].via.bin.size);
  } catch (const std::exception&) {
    return std::nullopt;  // msgpack's parse and type errors: not an entry
  }
  return a;
}

// RAII for a transaction of this store's environment.
class Txn {
 public:
  Txn(MDB_env* env, unsigned flags) {
    check(mdb_txn_begin(env, nullptr, flags, &txn_), "mdb_txn_begin");
  }
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn* get() const { return txn_; }
  void commit() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    check(mdb_txn_commit(t), "mdb_txn_commit");
  }

 private:
  MDB_txn* txn_ = nullptr;
};

// The write transaction's view of the tables.
struct Tables {
  MDB_txn* txn;
  MDB_dbi entries;
  MDB_dbi by_age;
  MDB_dbi meta;

  uint64_t bytes() const {
    auto v = kv_get(txn, meta, kBytesKey);
    return v ? read_be64(*v) : 0;
  }
  void set_bytes(uint64_t b) const { kv_put(txn, meta, kBytesKey, be64(b)); }
  // Removes the entry `key` (and its by_age row); its size, 0 when absent.
  uint64_t remove(std::string_view key) const {
    auto v = kv_get(txn, entries, key);
    if (!v) return 0;
    const uint64_t size = key.size() + v->size();
    if (v->size() >= kStampBytes)
      kv_del(txn, by_age, std::string(v->substr(0, kStampBytes)) + std::string(key));
    kv_del(txn, entries, key);
    return size;
  }
};

}  // namespace

uint64_t ResponseStore::entry_bytes(std::string_view key, const CachedAnswer& answer) {
  return key.size() + encode_value(answer).size();
}

ResponseStore::ResponseStore(const StoreOptions& options) : options_(options) {}

protocol::Result<std::unique_ptr<ResponseStore>> ResponseStore::open(const StoreOptions& options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec)
    return Error::internal("response cache: cannot create " + options.dir + ": " + ec.message());
  const fs::path dir(options.dir);
  // Data without the marker: not closed cleanly, so not trusted.
  if (fs::exists(dir / "data.mdb", ec) && !fs::exists(dir / kCleanMarker, ec)) {
    spdlog::info("response cache: {} was not closed cleanly; starting it empty", options.dir);
    fs::remove(dir / "data.mdb", ec);
    fs::remove(dir / "lock.mdb", ec);
  }
  fs::remove(dir / kCleanMarker, ec);
  std::unique_ptr<ResponseStore> store(new ResponseStore(options));
  if (auto r = store->open_env(); !r) {
    // A file LMDB does not take (another version, damage): the cache is
    // only a cache, so it starts over once.
    spdlog::warn("{}; starting it empty", r.error().message);
    store.reset(new ResponseStore(options));
    fs::remove(dir / "data.mdb", ec);
    fs::remove(dir / "lock.mdb", ec);
    if (auto again = store->open_env(); !again) return again.error();
  }
  return store;
}

protocol::Result<void> ResponseStore::open_env() {
  auto fail = [&](const char* what, int rc) {
    if (env_) mdb_env_close(env_);  // the store is not usable: nothing to sync at destruction
    env_ = nullptr;
    return Error::internal("response cache: " + std::string(what) + " in " + options_.dir + ": " +
                           mdb_strerror(rc));
  };
  if (int rc = mdb_env_create(&env_); rc != 0) return fail("mdb_env_create", rc);
  mdb_env_set_maxdbs(env_, 4);
  // Room for the entries at twice their size (pages, the index, free pages)
  // and some slack; the file is sparse until used.
  if (int rc = mdb_env_set_mapsize(env_, options_.max_bytes * 2 + kMapSlackBytes); rc != 0) {
    return fail("mdb_env_set_mapsize", rc);
  }
  if (int rc =
          mdb_env_open(env_, options_.dir.c_str(), MDB_NOTLS | MDB_NOSYNC | MDB_NORDAHEAD, 0600);
      rc != 0) {
    return fail("mdb_env_open", rc);
  }
  try {
    Txn txn(env_, 0);
    check(mdb_dbi_open(txn.get(), "entries", MDB_CREATE, &entries_dbi_), "mdb_dbi_open entries");
    check(mdb_dbi_open(txn.get(), "by_age", MDB_CREATE, &by_age_dbi_), "mdb_dbi_open by_age");
    check(mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &meta_dbi_), "mdb_dbi_open meta");
    txn.commit();
  } catch (const MdbError& e) {
    return fail(e.what(), e.rc);
  }
  refresh_stats();
  return {};
}

ResponseStore::~ResponseStore() {
  if (!env_) return;
  const int rc = mdb_env_sync(env_, 1);
  mdb_env_close(env_);
  if (rc != 0) {
    spdlog::warn("response cache: sync at close failed ({}); it starts empty next time",
                 mdb_strerror(rc));
    return;
  }
  std::ofstream marker(fs::path(options_.dir) / kCleanMarker);
}

std::optional<CachedAnswer> ResponseStore::get(std::string_view key, int64_t now_ms,
                                               int64_t ttl_ms) const {
  try {
    Txn txn(env_, MDB_RDONLY);
    auto v = kv_get(txn.get(), entries_dbi_, key);
    if (!v) return std::nullopt;
    auto answer = decode_value(*v);
    if (!answer) {
      spdlog::warn("response cache: an entry does not read; treated as a miss");
      return std::nullopt;
    }
    if (answer->created_ms + ttl_ms <= now_ms) return std::nullopt;
    return answer;
  } catch (const MdbError& e) {
    spdlog::warn("response cache: read failed ({}); treated as a miss", e.what());
    return std::nullopt;
  }
}

bool ResponseStore::put(std::string_view key, const CachedAnswer& answer, int64_t ttl_ms) {
  const std::string value = encode_value(answer);
  const uint64_t size = key.size() + value.size();
  if (size > kMaxEntryBytes || size > options_.max_bytes / 8) return false;
  MutexLock lock(write_mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      write(key, value, answer.created_ms, ttl_ms);
      return true;
    } catch (const MdbError& e) {
      if (e.rc != MDB_MAP_FULL || attempt > 0) {
        spdlog::warn("response cache: storing an answer failed: {}", e.what());
        refresh_stats();
        return false;
      }
    }
    // The file is full before max_bytes (pages hold less than their
    // size): make room by evicting a quarter of the bytes, then try again.
    try {
      shrink_to(bytes_.load() * 3 / 4);
    } catch (const MdbError& e) {
      spdlog::warn("response cache: evicting after a full map failed: {}", e.what());
      return false;
    }
  }
  return false;
}

void ResponseStore::write(std::string_view key, const std::string& value, int64_t created_ms,
                          int64_t ttl_ms) {
  Txn txn(env_, 0);
  const Tables t{txn.get(), entries_dbi_, by_age_dbi_, meta_dbi_};
  uint64_t bytes = t.bytes();
  uint64_t expired = 0, evicted = 0;
  // The entry replaced: an expired one counts as such.
  if (auto old = kv_get(txn.get(), entries_dbi_, key);
      old && static_cast<int64_t>(read_be64(*old)) + ttl_ms <= created_ms) {
    ++expired;
  }
  bytes -= std::min(bytes, t.remove(key));
  // Oldest first: expired entries, then whatever does not fit.
  const uint64_t size = key.size() + value.size();
  {
    Cursor age(txn.get(), by_age_dbi_);
    while (age.first()) {
      const int64_t created = static_cast<int64_t>(read_be64(age.key()));
      const bool is_expired = created + ttl_ms <= created_ms;
      if (!is_expired && bytes + size <= options_.max_bytes) break;
      const std::string old_key(age.key().substr(kStampBytes));
      age.del();
      // The entry this row indexes (one that does not read goes too: its
      // own row may be gone).
      auto v = kv_get(txn.get(), entries_dbi_, old_key);
      const bool indexed = v && v->substr(0, kStampBytes) == be64(static_cast<uint64_t>(created));
      if (v && (indexed || !decode_value(*v))) {
        bytes -= std::min<uint64_t>(bytes, old_key.size() + v->size());
        kv_del(txn.get(), entries_dbi_, old_key);
        ++(is_expired ? expired : evicted);
      }
    }
  }
  kv_put(txn.get(), entries_dbi_, key, value);
  kv_put(txn.get(), by_age_dbi_, be64(static_cast<uint64_t>(created_ms)) + std::string(key), "");
  t.set_bytes(bytes + size);
  txn.commit();
  expired_ += expired;
  evicted_ += evicted;
  refresh_stats();
  if (options_.on_write) options_.on_write(stats(), evicted, expired);
}

void ResponseStore::shrink_to(uint64_t target) {
  Txn txn(env_, 0);
  const Tables t{txn.get(), entries_dbi_, by_age_dbi_, meta_dbi_};
  uint64_t bytes = t.bytes();
  uint64_t evicted = 0;
  {
    Cursor age(txn.get(), by_age_dbi_);
    while (bytes > target && age.first()) {
      const std::string old_key(age.key().substr(kStampBytes));
      age.del();
      const uint64_t removed = t.remove(old_key);
      bytes -= std::min(bytes, removed);
      if (removed) ++evicted;
    }
  }
  t.set_bytes(bytes);
  txn.commit();
  evicted_ += evicted;
  refresh_stats();
  if (options_.on_write) options_.on_write(stats(), evicted, 0);
}

void ResponseStore::refresh_stats() {
  try {
    Txn txn(env_, MDB_RDONLY);
    MDB_stat st{};
    check(mdb_stat(txn.get(), entries_dbi_, &st), "mdb_stat");
    entries_ = st.ms_entries;
    auto b = kv_get(txn.get(), meta_dbi_, kBytesKey);
    bytes_ = b ? read_be64(*b) : 0;
  } catch (const MdbError& e) {
    spdlog::warn("response cache: reading its size failed: {}", e.what());
  }
}

StoreStats ResponseStore::stats() const {
  return StoreStats{entries_.load(), bytes_.load(), evicted_.load(), expired_.load()};
}

}  // namespace tollgate::cache
