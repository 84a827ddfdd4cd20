// A libpq connection and its results, as small RAII types (internal to the
// PostgreSQL backend). Every failure is thrown as PgError with libpq's
// message; `lost` says the connection itself is gone (the owner drops it
// and connects again).
//
// Connections never hang the daemon: connect_timeout (2 s, libpq's
// minimum), TCP keepalives and tcp_user_timeout bound a dead peer, and
// statement_timeout bounds a stuck server; the URI's own settings win.
//
// One thread at a time per connection (libpq's rule): the writer has its
// own, readers take one from a pool.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::ledger::pg {

struct PgError : std::runtime_error {
  PgError(const std::string& what, bool lost_connection)
      : std::runtime_error(what), lost(lost_connection) {}
  bool lost;
};

// One parameter: text (numbers, names) or binary (bytea).
struct PgParam {
  std::string value;
  bool binary = false;
  static PgParam text(std::string v) { return PgParam{std::move(v), false}; }
  static PgParam bytes(std::string v) { return PgParam{std::move(v), true}; }
  static PgParam num(int64_t v) { return PgParam{std::to_string(v), false}; }
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;

  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  // A binary-format column: bytea as its bytes, int8 as its value.
  std::string bytes(int row, int col) const;
  int64_t i64(int row, int col) const;
  // A text-format column (results of exec).
  std::string text(int row, int col) const { return PQgetvalue(r_, row, col); }

 private:
  PGresult* r_;
};

class PgConn {
 public:
  // Connects with the timeouts above; throws PgError.
  static std::unique_ptr<PgConn> connect(const std::string& uri, int statement_timeout_ms);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  bool usable() const { return PQstatus(c_) == CONNECTION_OK; }
  bool in_transaction() const { return PQtransactionStatus(c_) != PQTRANS_IDLE; }
  // One or more statements without parameters (text results, the last one's).
  PgResult exec(const std::string& sql);
  // One statement with parameters; results in binary format.
  PgResult query(const std::string& sql, const std::vector<PgParam>& params);
  // LISTEN/NOTIFY: the connection's socket, and the payloads received.
  int socket() const { return PQsocket(c_); }
  std::vector<std::string> notifications();

 private:
  explicit PgConn(PGconn* c) : c_(c) {}
  PgResult check(PGresult* r, std::string_view what);
  PGconn* c_;
};

// The URI with its password (if any) hidden, for logs and errors.
std::string redact(const std::string& uri);
// "name" as a quoted SQL identifier.
std::string quote_ident(const std::string& name);

}  // namespace tollgate::ledger::pg
