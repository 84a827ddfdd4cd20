#include "tools/tollctl/migrate_ledger.h"

#include <fmt/format.h>

#include <filesystem>
#include <iterator>
#include <utility>
#include <vector>

#include "daemon/ledger/lmdb/data_dir_lock.h"
#include "daemon/ledger/lmdb/lmdb_env.h"
#include "daemon/ledger/postgres/pg_conn.h"
#include "daemon/ledger/postgres/pg_schema.h"

namespace tollgate::tools {
namespace {

using ledger::pg::PgConn;
using ledger::pg::PgError;
using ledger::pg::PgParam;
using ledger::pg::RowTable;

struct Row {
  RowTable table;
  std::string key, value;
};

constexpr size_t kRowsPerStatement = 500;

// Every row of the LMDB ledger, as PostgreSQL stores it; reservations
// apart (id, encoded row).
void read_lmdb(const ledger::detail::LmdbEnv& env, std::vector<Row>& rows,
               std::vector<std::pair<uint64_t, std::string>>& reservations) {
  const auto& t = env.tables();
  const std::pair<MDB_dbi, RowTable> tables[] = {
      {t.meta, RowTable::kMeta},           {t.usage, RowTable::kUsage},
      {t.alerts_fired, RowTable::kFired},  {t.alerts_log, RowTable::kAlerts},
      {t.resets, RowTable::kResets},       {t.idempotency, RowTable::kIdempotency},
      {t.rate_day, RowTable::kRateDay},    {t.ledger_log, RowTable::kLedgerLog},
      {t.limits, RowTable::kLimits},       {t.usage_day, RowTable::kUsageDay},
      {t.outbox, RowTable::kOutbox},       {t.rate_minute, RowTable::kRateMinute}};
  ledger::detail::ReadTxn txn(env);
  for (const auto& [dbi, table] : tables) {
    ledger::detail::Cursor cur(txn.get(), dbi);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      // LMDB's own schema version is not the PostgreSQL schema's.
      if (table == RowTable::kMeta && cur.key() == "schema") continue;
      rows.push_back(Row{table, std::string(cur.key()), std::string(cur.value())});
    }
  }
  ledger::detail::Cursor cur(txn.get(), t.reservations);
  for (bool ok = cur.first(); ok; ok = cur.next()) {
    uint64_t id = 0;
    for (unsigned char c : cur.key()) id = (id << 8) | c;
    reservations.emplace_back(id, std::string(cur.value()));
  }
}

void insert_rows(PgConn& conn, const std::vector<Row>& rows) {
  for (size_t at = 0; at < rows.size(); at += kRowsPerStatement) {
    const size_t n = std::min(kRowsPerStatement, rows.size() - at);
    fmt::memory_buffer sql;
    fmt::format_to(std::back_inserter(sql), "INSERT INTO tollgate_rows (tbl, k, v) VALUES ");
    std::vector<PgParam> params;
    for (size_t i = 0; i < n; ++i) {
      const Row& r = rows[at + i];
      fmt::format_to(std::back_inserter(sql), "{}(${}::smallint,${}::bytea,${}::bytea)",
                     i == 0 ? "" : ",", 3 * i + 1, 3 * i + 2, 3 * i + 3);
      params.push_back(PgParam::num(static_cast<int16_t>(r.table)));
      params.push_back(PgParam::bytes(r.key));
      params.push_back(PgParam::bytes(r.value));
    }
    conn.query(fmt::to_string(sql), params);
  }
}

// Into an empty PostgreSQL ledger, in one transaction under its lock.
protocol::Result<void> write_pg(PgConn& conn, const std::vector<Row>& rows,
                                const std::vector<std::pair<uint64_t, std::string>>& reservations) {
  conn.exec(std::string("BEGIN;") + ledger::pg::kLockSql);
  const auto found = conn.query(
      "SELECT ((SELECT count(*) FROM tollgate_rows) + (SELECT count(*) FROM "
      "tollgate_reservations))::int8",
      {});
  if (found.i64(0, 0) > 0) {
    conn.exec("ROLLBACK");
    return protocol::Error::bad_request(
        "the PostgreSQL ledger already has rows (a daemon ran on it, or a migration did); "
        "migrate into a new database or schema");
  }
  insert_rows(conn, rows);
  for (const auto& [id, value] : reservations) {
    conn.query("INSERT INTO tollgate_reservations (id, owner, lease_until, v) VALUES "
               "($1::int8, $3, now() - interval '1 second', $2::bytea)",
               {PgParam::num(static_cast<int64_t>(id)), PgParam::bytes(value),
                PgParam::text(ledger::pg::kMigratedOwner)});
  }
  conn.exec("UPDATE tollgate_state SET generation = generation + 1;COMMIT");
  return {};
}

}  // namespace

protocol::Result<MigrateReport> migrate_ledger(const std::string& data_dir, const std::string& uri,
                                               const std::string& schema) {
  if (!std::filesystem::exists(data_dir + "/data.mdb")) {
    return protocol::Error::bad_request("no LMDB ledger in " + data_dir + " (no data.mdb)");
  }
  auto lock = ledger::DataDirLock::acquire(data_dir);  // no daemon may write it meanwhile
  if (!lock) return lock.error();
  auto env = ledger::detail::LmdbEnv::open(data_dir, size_t{64} << 20, true);
  if (!env) return env.error();
  std::vector<Row> rows;
  std::vector<std::pair<uint64_t, std::string>> reservations;
  try {
    read_lmdb(*env.value(), rows, reservations);
  } catch (const ledger::detail::MdbError& e) {
    return protocol::Error::internal(std::string("reading the LMDB ledger: ") + e.what());
  }
  try {
    auto conn = PgConn::connect(uri, 600000);
    if (!schema.empty()) {
      conn->exec("CREATE SCHEMA IF NOT EXISTS \"" + schema + "\";SET search_path TO \"" + schema + "\"");
    }
    if (auto newer = ledger::pg::migrate(*conn)) return protocol::Error::bad_request(*newer);
    if (auto written = write_pg(*conn, rows, reservations); !written) return written.error();
  } catch (const PgError& e) {
    return protocol::Error::internal("writing the PostgreSQL ledger at " + ledger::pg::redact(uri) +
                                     ": " + e.what());
  }
  return MigrateReport{rows.size(), reservations.size()};
}

}  // namespace tollgate::tools
