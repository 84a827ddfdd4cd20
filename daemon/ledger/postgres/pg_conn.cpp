#include "daemon/ledger/postgres/pg_conn.h"

#include <regex>

namespace tollgate::ledger::pg {
namespace {

std::string message_of(PGconn* c) {
  std::string m = PQerrorMessage(c);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

std::string PgResult::bytes(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t PgResult::i64(int row, int col) const {
  const char* p = PQgetvalue(r_, row, col);
  if (PQgetlength(r_, row, col) != 8) throw PgError("postgres: expected an int8 column", false);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}

std::unique_ptr<PgConn> PgConn::connect(const std::string& uri, int statement_timeout_ms) {
  const std::string options = "-c client_min_messages=warning -c statement_timeout=" +
                              std::to_string(statement_timeout_ms);
  // Defaults first: the URI (expanded from dbname) overrides them.
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "options", "application_name",
                        "dbname", nullptr};
  const char* values[] = {"2", "1", "5", "2", "2", "5000", options.c_str(), "tollgated",
                          uri.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 1);
  if (c == nullptr) throw PgError("postgres: out of memory", true);
  std::unique_ptr<PgConn> conn(new PgConn(c));
  if (PQstatus(c) != CONNECTION_OK) {
    throw PgError("cannot connect to PostgreSQL at " + redact(uri) + ": " + message_of(c), true);
  }
  return conn;
}

PgConn::~PgConn() { PQfinish(c_); }

PgResult PgConn::check(PGresult* r, std::string_view what) {
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return PgResult(r);
  std::string message = r ? PQresultErrorMessage(r) : message_of(c_);
  PQclear(r);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  throw PgError("postgres " + std::string(what) + ": " + message, !usable());
}

PgResult PgConn::exec(const std::string& sql) { return check(PQexec(c_, sql.c_str()), "query"); }

PgResult PgConn::query(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  values.reserve(params.size());
  for (const PgParam& p : params) {
    values.push_back(p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  return check(PQexecParams(c_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                            values.data(), lengths.data(), formats.data(), 1),
               "query");
}

std::vector<std::string> PgConn::notifications() {
  std::vector<std::string> out;
  if (PQconsumeInput(c_) == 0) throw PgError("postgres: " + message_of(c_), !usable());
  while (PGnotify* n = PQnotifies(c_)) {
    out.emplace_back(n->extra);
    PQfreemem(n);
  }
  return out;
}

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string redact(const std::string& uri) {
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  static const std::regex password(R"(^([a-z]+://[^:/@]*):[^@]*@)");
  std::string out = std::regex_replace(uri, password, "$1:***@");
  static const std::regex param(R"(password=[^& ]*)");
  return std::regex_replace(out, param, "password=***");
}

}  // namespace tollgate::ledger::pg
