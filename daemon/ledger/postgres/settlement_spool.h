// SettlementSpool: the settlements (commits, releases) a PostgreSQL ledger
// keeps while the database is unreachable, in a local file, so that a
// daemon that crashes before the database is back loses none of them
// (internal to the PostgreSQL backend; pg_ledger.h).
//
// The file (DIR/pg-settlements.spool) holds the whole list, msgpack:
// [[ "commit", reservation_id, input, output, cost_usd, now_ms, stored? ],
//  [ "release", reservation_id ], ...] with stored = [agent, key,
// fingerprint, received_ms, expiry_ms, reply?, reply_bytes] or nil. Each
// save writes a new file, fsyncs it and renames it over the old one
// (then fsyncs the directory): a crash leaves the old list or the new.
// Applying a settlement twice is harmless (the second finds its
// reservation gone), so the file is cleared after the batch commits.
//
// The writer thread only.
#pragma once

#include <string>
#include <vector>

#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger::pg {

class SettlementSpool {
 public:
  explicit SettlementSpool(std::string dir);
  // Replaces the file's list with `kept` (an empty list removes the file).
  // Failures are logged: the settlements stay kept in memory.
  void save(const std::vector<detail::WriteOp>& kept);
  // The settlements in the file, in order, without callbacks.
  Result<std::vector<detail::WriteOp>> load() const;

 private:
  std::string path_;
};

}  // namespace tollgate::ledger::pg
