// The PostgreSQL ledger's schema (internal to the PostgreSQL backend):
// created and migrated by the daemon, versioned in tollgate_schema.
//
//   tollgate_schema        (version int)        the schema's version, one row
//   tollgate_state         (generation bigint)  bumped by every write batch:
//                                               a writer whose cache was
//                                               filled at the generation it
//                                               sees again may keep it
//   tollgate_rows          (tbl smallint, k bytea, v bytea, PK (tbl, k))
//                          every row of rows.h but reservations, one `tbl`
//                          per kind (RowTable), keys and values encoded as
//                          LMDB stores them (daemon/ledger/row_codec.h), so
//                          both backends list rows in the same byte order
//   tollgate_reservations  (id bigint PK, owner text, lease_until timestamptz,
//                          v bytea)  open reservations, with the daemon
//                          that holds each and until when (the lease)
//   tollgate_changes       (gen bigint, tbl smallint, k bytea)  the keys each
//                          generation changed (tbl 0: a reservation id), so a
//                          writer refreshes only those rows of its cache
//                          (pruned to the last generations)
//
// Every write batch of every daemon is one transaction that first takes
// the ledger's advisory lock (kLockSql): batches are serialized across
// daemons, so the accounting rules' reads and writes inside one are exact.
// The lock is per schema, so several ledgers can share a database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/ledger/postgres/pg_conn.h"

namespace tollgate::ledger::pg {

inline constexpr int kPgSchemaVersion = 1;

// Takes the ledger's lock until the end of the transaction.
inline constexpr const char* kLockSql =
    "SELECT pg_advisory_xact_lock(7478, hashtext(current_schema()))";

// The owner of the reservations `tollctl migrate-ledger` copies from an
// LMDB ledger: calls of a stopped daemon, which no one renews; the first
// daemon to open the ledger charges them, as the LMDB daemon would have.
inline constexpr const char* kMigratedOwner = "lmdb-migration";

// The names of the kMeta rows.
inline constexpr const char* kMetaPeriod = "period";
inline constexpr const char* kMetaNextReservation = "next_reservation";
inline constexpr const char* kMetaLogSeq = "log_seq";
inline constexpr const char* kMetaProbe = "probe";
inline constexpr const char* kMetaPruneCursor = "prune_cursor";

enum class RowTable : int16_t {
  kMeta = 1,
  kUsage = 2,
  kFired = 3,
  kAlerts = 4,
  kResets = 5,
  kIdempotency = 6,
  kRateDay = 7,
  kLedgerLog = 8,
  kLimits = 9,
  kUsageDay = 10,
  kOutbox = 11,
  kRateMinute = 12,  // added without a schema bump: an older build leaves it alone
  // The daemon that fired an alert or wrote a ledger record (key: its
  // kAlerts or kLedgerLog key, unique across both as they share log_seq;
  // value: the daemon id), so a listener back from a disconnection
  // publishes the others' it missed and not its own. Added without a
  // schema bump.
  kOrigin = 13,
};

// The logs: written, never read back by key by a writer (not cached, not in
// the change log).
inline bool is_log_table(RowTable t) {
  return t == RowTable::kAlerts || t == RowTable::kResets || t == RowTable::kLedgerLog ||
         t == RowTable::kOrigin;
}

// The NOTIFY channel of the ledger in `schema` ("": the default one).
inline std::string alert_channel(const std::string& schema) {
  return schema.empty() ? std::string("tollgate_alerts") : "tollgate_alerts_" + schema;
}

// Creates the tables of a new ledger or migrates an older schema, in one
// transaction under the ledger's lock. The error when the stored schema is
// newer than this build (nothing is changed then). Throws PgError.
std::optional<std::string> migrate(PgConn& conn);

}  // namespace tollgate::ledger::pg
