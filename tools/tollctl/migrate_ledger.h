// `tollctl migrate-ledger --data-dir DIR --to postgresql://…`: copies a
// stopped tollgated's LMDB ledger into a new PostgreSQL ledger
// (docs/operations.md, "Several daemons on PostgreSQL").
//
// Both ledgers store the same keys and values (daemon/ledger/row_codec.h),
// so the copy is row for row, in one PostgreSQL transaction under the
// ledger's lock. It refuses a data directory a daemon holds (DataDirLock)
// and a PostgreSQL ledger that has rows already. Reservations left open
// are copied under the owner "lmdb-migration" with an expired lease, so
// the first daemon to start on PostgreSQL charges them in full, as the
// LMDB daemon would have at its next start.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/error.h"

namespace tollgate::tools {

struct MigrateReport {
  uint64_t rows = 0;          // every row but reservations
  uint64_t reservations = 0;  // left open, charged by the first daemon
};

protocol::Result<MigrateReport> migrate_ledger(const std::string& data_dir, const std::string& uri,
                                               const std::string& schema = "");

}  // namespace tollgate::tools
