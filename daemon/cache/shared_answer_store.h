// SharedAnswerStore: the response cache of daemons sharing a PostgreSQL
// ledger (PROTOCOL.md section 12): an answer one daemon stored is a hit on
// every other. The shared copy is the table tollgate_cache in the ledger's
// schema (created if missing, beside the ledger's tables; an older build
// leaves it alone); each daemon's own ResponseStore (its data directory)
// stays in front of it, so a repeated hit reads no database.
//
//   get: the local store; on a miss, the shared table (an entry not past
//        the TTL), copied into the local store when found.
//   put: the local store, then the shared table (INSERT ... ON CONFLICT
//        UPDATE), dropping its entries past the TTL; every kTrimEvery
//        puts, the oldest entries beyond max_bytes too.
//
// The cache may lose answers, never give a wrong one: a database failure
// is a miss (get) or a put left to the local store, logged at most once a
// minute, and never fails a call.
//
// Threads: any thread; each database use takes a connection from a small
// pool (never two threads on one connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/cache/answer_store.h"
#include "daemon/core/sync.h"
#include "protocol/error.h"

namespace tollgate::ledger::pg {
class PgConn;
}

namespace tollgate::cache {

struct SharedStoreOptions {
  std::string uri;          // the PostgreSQL ledger's (TOLLGATE_LEDGER)
  std::string schema;       // "": the connection's default
  uint64_t max_bytes = 0;   // the most bytes (keys and answers) the table keeps
  int statement_timeout_ms = 5000;
};

class SharedAnswerStore final : public AnswerStore {
 public:
  static constexpr uint64_t kTrimEvery = 64;

  // Creates the table if missing. An Error when the database cannot be
  // reached: the daemon's ledger could not either.
  static protocol::Result<std::unique_ptr<SharedAnswerStore>> open(
      SharedStoreOptions options, std::unique_ptr<AnswerStore> local);
  ~SharedAnswerStore() override;

  std::optional<CachedAnswer> get(std::string_view key, int64_t now_ms,
                                  int64_t ttl_ms) const override;
  bool put(std::string_view key, const CachedAnswer& answer, int64_t ttl_ms) override;
  StoreStats stats() const override;  // the local store's

 private:
  SharedAnswerStore(SharedStoreOptions options, std::unique_ptr<AnswerStore> local);
  std::unique_ptr<ledger::pg::PgConn> take() const;
  void give_back(std::unique_ptr<ledger::pg::PgConn> conn) const;
  void failed(const char* what, const std::string& why) const;

  const SharedStoreOptions options_;
  const std::unique_ptr<AnswerStore> local_;
  mutable Mutex mu_;
  mutable std::vector<std::unique_ptr<ledger::pg::PgConn>> idle_ GUARDED_BY(mu_);
  mutable std::chrono::steady_clock::time_point last_warning_ GUARDED_BY(mu_){};
  uint64_t puts_ GUARDED_BY(mu_) = 0;
};

}  // namespace tollgate::cache
