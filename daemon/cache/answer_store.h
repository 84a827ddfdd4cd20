// AnswerStore: where the response cache (PROTOCOL.md section 10) keeps its
// answers: ResponseStore (LMDB in the data directory, one daemon) or
// SharedAnswerStore (several daemons on one PostgreSQL ledger, section 12).
// CallCache uses only this; see response_store.h for the contract of each
// method. Implementations are safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::cache {

// One cached answer.
struct CachedAnswer {
  std::string reply;     // encode_reply(nil id, the CallReply)
  std::string provider;  // who answered it
  std::string model;     // the model the provider reported
  uint64_t tokens = 0;   // what the provider reported (input + output)
  int64_t created_ms = 0;
  bool operator==(const CachedAnswer&) const = default;
};

struct StoreStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;    // keys and values, as counted against max_bytes
  uint64_t evicted = 0;  // entries removed to fit max_bytes since open
  uint64_t expired = 0;  // entries removed past their TTL since open
};

class AnswerStore {
 public:
  virtual ~AnswerStore() = default;
  // The answer under `key` unless older than ttl_ms at now_ms.
  virtual std::optional<CachedAnswer> get(std::string_view key, int64_t now_ms,
                                          int64_t ttl_ms) const = 0;
  // Stores `answer` under `key`; false when it was not stored.
  virtual bool put(std::string_view key, const CachedAnswer& answer, int64_t ttl_ms) = 0;
  virtual StoreStats stats() const = 0;
};

}  // namespace tollgate::cache
