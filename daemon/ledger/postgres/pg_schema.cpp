#include "daemon/ledger/postgres/pg_schema.h"

#include <spdlog/spdlog.h>

#include <array>

namespace tollgate::ledger::pg {
namespace {

// Migration i takes the schema from version i to i + 1.
constexpr std::array<const char*, kPgSchemaVersion> kMigrations = {
    "CREATE TABLE tollgate_state (generation bigint NOT NULL);"
    "INSERT INTO tollgate_state VALUES (0);"
    "CREATE TABLE tollgate_rows (tbl smallint NOT NULL, k bytea NOT NULL, v bytea NOT NULL,"
    "  PRIMARY KEY (tbl, k));"
    "CREATE TABLE tollgate_reservations (id bigint PRIMARY KEY, owner text NOT NULL,"
    "  lease_until timestamptz NOT NULL, v bytea NOT NULL);"
    "CREATE INDEX tollgate_reservations_owner ON tollgate_reservations (owner);"
    "CREATE TABLE tollgate_changes (gen bigint NOT NULL, tbl smallint NOT NULL, k bytea NOT NULL);"
    "CREATE INDEX tollgate_changes_gen ON tollgate_changes (gen);",
};

}  // namespace

std::optional<std::string> migrate(PgConn& conn) {
  conn.exec(std::string("BEGIN;") + kLockSql + ";" +
            "CREATE TABLE IF NOT EXISTS tollgate_schema (version integer NOT NULL)");
  try {
    const auto found = conn.query("SELECT coalesce(max(version), 0)::int8 FROM tollgate_schema", {});
    const int64_t version = found.i64(0, 0);
    if (version > kPgSchemaVersion) {
      conn.exec("ROLLBACK");
      return "ledger schema " + std::to_string(version) +
             " in PostgreSQL is newer than this tollgated (" + std::to_string(kPgSchemaVersion) +
             "); upgrade tollgated";
    }
    for (int64_t v = version; v < kPgSchemaVersion; ++v) {
      spdlog::info("ledger: PostgreSQL schema {} -> {}", v, v + 1);
      conn.exec(kMigrations[static_cast<size_t>(v)]);
    }
    if (version < kPgSchemaVersion) {
      conn.exec("DELETE FROM tollgate_schema; INSERT INTO tollgate_schema VALUES (" +
                std::to_string(kPgSchemaVersion) + ")");
    }
    conn.exec("COMMIT");
    return std::nullopt;
  } catch (const PgError&) {
    if (conn.usable()) conn.exec("ROLLBACK");
    throw;
  }
}

}  // namespace tollgate::ledger::pg
