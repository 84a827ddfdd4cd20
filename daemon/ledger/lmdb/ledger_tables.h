// Per-table accessors of the ledger's LMDB tables (internal to the LMDB
// backend; the layout is described in the DESIGN block of lmdb_ledger.h;
// the key and value encodings are daemon/ledger/row_codec.h, shared with
// the PostgreSQL backend). Every accessor works inside a caller-owned
// transaction and throws MdbError for LMDB failures.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/ledger_types.h"
#include "daemon/ledger/row_codec.h"
#include "daemon/ledger/rows.h"
#include "daemon/ledger/lmdb/lmdb_env.h"

namespace tollgate::ledger::detail {

// ---- accessors
UsageRow load_usage(MDB_txn* txn, const Tables& t, std::string_view key);

std::optional<std::string> meta_string(MDB_txn* txn, const Tables& t, std::string_view name);
std::optional<uint64_t> meta_u64(MDB_txn* txn, const Tables& t, std::string_view name);
std::optional<uint32_t> meta_u32(MDB_txn* txn, const Tables& t, std::string_view name);
void put_meta_u32(MDB_txn* txn, const Tables& t, std::string_view name, uint32_t v);

}  // namespace tollgate::ledger::detail
