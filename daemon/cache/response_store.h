// ResponseStore: the response cache's answers on disk (PROTOCOL.md section
// 10), in an LMDB environment of its own, <data_dir>/cache/, so that its
// writes never queue behind the ledger's fsyncs.
//
// DESIGN
// Tables: `entries` (cache key -> created_ms, 8 bytes big-endian, then a
// msgpack [provider, model, tokens, encoded reply]), `by_age` (created_ms
// big-endian + key -> nothing: oldest first) and `meta` ("bytes": the sum
// of key and value sizes of every entry, kept in the same transactions).
// An entry older than the TTL is a miss when read and is removed by the
// next put(), which first drops expired entries from the oldest end, then
// evicts the oldest until the entries fit max_bytes. An entry that does not
// read (corrupt) is a miss and is removed by the next put() of its key.
//
// Losing the cache is harmless, so commits do not fsync (MDB_NOSYNC): a
// process crash loses nothing, but a system crash could leave a torn file.
// So the file is trusted only after a clean close: the destructor syncs and
// then writes the marker file `clean`; open() deletes the marker, and
// wipes the environment when it finds data without one (the daemon or the
// machine stopped without closing it). Reopening after a clean close keeps
// every entry.
//
// Threads: get() and stats() from any thread (read transactions, MDB_NOTLS);
// put() from any thread, serialized by a mutex (one write transaction at a
// time); no transaction outlives the call that opened it. Destroy it when
// no call is running on it. One ResponseStore per directory per process
// (tollgated holds the data directory's lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/cache/answer_store.h"
#include "daemon/core/sync.h"
#include "protocol/error.h"

typedef struct MDB_env MDB_env;  // NOLINT: lmdb.h's own declaration

namespace tollgate::cache {

struct StoreOptions {
  std::string dir;         // created if missing
  uint64_t max_bytes = 0;  // the most bytes of entries (keys and values) kept
  // Metrics (optional): told after each write transaction, on the writing
  // thread under the store's write lock: its size now, and how many
  // entries that write removed to fit max_bytes and past their TTL.
  std::function<void(const StoreStats& now, uint64_t evicted, uint64_t expired)> on_write{};
};

// The most bytes one entry may take: larger answers are not stored.
inline constexpr uint64_t kMaxEntryBytes = uint64_t{4} << 20;

class ResponseStore final : public AnswerStore {
 public:
  static protocol::Result<std::unique_ptr<ResponseStore>> open(const StoreOptions& options);
  // Syncs and marks the file clean.
  ~ResponseStore() override;
  ResponseStore(const ResponseStore&) = delete;
  ResponseStore& operator=(const ResponseStore&) = delete;

  // The answer stored under `key`, unless it is older than ttl_ms at now_ms
  // (created_ms + ttl_ms <= now_ms) or does not read. Any thread.
  std::optional<CachedAnswer> get(std::string_view key, int64_t now_ms,
                                  int64_t ttl_ms) const override;
  // Stores `answer` under `key` (replacing what was there), at its
  // created_ms; first removes entries expired by then, then evicts the
  // oldest until everything fits max_bytes. false when it was not stored:
  // over kMaxEntryBytes or an eighth of max_bytes, or LMDB failed (logged).
  bool put(std::string_view key, const CachedAnswer& answer, int64_t ttl_ms) override;
  StoreStats stats() const override;

  // What one entry counts against max_bytes.
  static uint64_t entry_bytes(std::string_view key, const CachedAnswer& answer);

 private:
  explicit ResponseStore(const StoreOptions& options);
  protocol::Result<void> open_env();
  // One write transaction: expire, store, evict. Throws ledger's MdbError.
  void write(std::string_view key, const std::string& value, int64_t created_ms, int64_t ttl_ms);
  // One write transaction evicting the oldest entries until at most
  // `target` bytes are left (after MDB_MAP_FULL).
  void shrink_to(uint64_t target);
  void refresh_stats();

  // Constant after open().
  const StoreOptions options_;
  MDB_env* env_ = nullptr;
  unsigned entries_dbi_ = 0;
  unsigned by_age_dbi_ = 0;
  unsigned meta_dbi_ = 0;

  Mutex write_mu_;  // held for each write transaction
  std::atomic<uint64_t> entries_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> evicted_{0};
  std::atomic<uint64_t> expired_{0};
};

}  // namespace tollgate::cache
