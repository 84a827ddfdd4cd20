// KnownReplies: the last ok reply to each status question, so that a status
// op still answers from what is known while the ledger cannot be read (a
// PostgreSQL ledger whose database is down, PROTOCOL.md section 12). Such a
// reply is marked stale (protocol::Staleness): when it was read, and why
// it is not read again now.
//
// A question is the op and its fields (the request encoded without its
// id). At most `capacity` are kept; a new one replaces the one read
// longest ago.
//
// Threads: any thread (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "daemon/core/sync.h"
#include "daemon/server/reply.h"
#include "protocol/requests.h"

namespace tollgate {

class KnownReplies {
 public:
  static constexpr size_t kDefaultCapacity = 256;
  explicit KnownReplies(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // The key of a status request.
  static std::string question(const protocol::RequestBody& body);

  // Keeps an ok reply read at now_ms (errors are not kept).
  void remember(const std::string& question, const Reply& reply, int64_t now_ms);
  // The last ok reply to the question, marked stale with `reason`; nullopt
  // when it was never answered.
  std::optional<Reply> recall(const std::string& question, const std::string& reason) const;

  size_t size() const;

 private:
  struct Known {
    Reply reply;
    int64_t as_of_ms = 0;
  };
  const size_t capacity_;
  mutable Mutex mu_;
  std::map<std::string, Known> known_ GUARDED_BY(mu_);
};

}  // namespace tollgate
