#include "daemon/cache/shared_answer_store.h"

#include <spdlog/spdlog.h>

#include "daemon/ledger/postgres/pg_conn.h"

namespace tollgate::cache {
namespace {

using ledger::pg::PgConn;
using ledger::pg::PgError;
using ledger::pg::PgParam;

constexpr size_t kMaxIdle = 4;
constexpr auto kWarnEvery = std::chrono::minutes(1);

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS tollgate_cache (k bytea PRIMARY KEY, created_ms int8 NOT NULL,"
    " provider text NOT NULL, model text NOT NULL, tokens int8 NOT NULL, reply bytea NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tollgate_cache_age ON tollgate_cache (created_ms)";

}  // namespace

SharedAnswerStore::SharedAnswerStore(SharedStoreOptions options, std::unique_ptr<AnswerStore> local)
    : options_(std::move(options)), local_(std::move(local)) {}

SharedAnswerStore::~SharedAnswerStore() = default;

protocol::Result<std::unique_ptr<SharedAnswerStore>> SharedAnswerStore::open(
    SharedStoreOptions options, std::unique_ptr<AnswerStore> local) {
  std::unique_ptr<SharedAnswerStore> store(
      new SharedAnswerStore(std::move(options), std::move(local)));
  try {
    auto conn = store->take();
    conn->exec(kCreateTable);
    store->give_back(std::move(conn));
  } catch (const PgError& e) {
    return protocol::Error::internal(std::string("response cache: cannot set up its table in ") +
                                     "PostgreSQL at " + ledger::pg::redact(store->options_.uri) +
                                     ": " + e.what());
  }
  return store;
}

std::unique_ptr<PgConn> SharedAnswerStore::take() const {
  {
    MutexLock lock(mu_);
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->usable()) return conn;
    }
  }
  auto conn = PgConn::connect(options_.uri, options_.statement_timeout_ms);
  if (!options_.schema.empty()) {
    conn->exec("SET search_path TO " + ledger::pg::quote_ident(options_.schema));
  }
  return conn;
}

void SharedAnswerStore::give_back(std::unique_ptr<PgConn> conn) const {
  MutexLock lock(mu_);
  if (idle_.size() < kMaxIdle && conn->usable()) idle_.push_back(std::move(conn));
}

void SharedAnswerStore::failed(const char* what, const std::string& why) const {
  const auto now = std::chrono::steady_clock::now();
  {
    MutexLock lock(mu_);
    if (now - last_warning_ < kWarnEvery) return;
    last_warning_ = now;
  }
  spdlog::warn("response cache: the shared {} in PostgreSQL failed ({}); this daemon's own "
               "cache answers until it works again",
               what, why);
}

std::optional<CachedAnswer> SharedAnswerStore::get(std::string_view key, int64_t now_ms,
                                                   int64_t ttl_ms) const {
  if (auto hit = local_->get(key, now_ms, ttl_ms)) return hit;
  CachedAnswer found;
  try {
    auto conn = take();
    auto r = conn->query(
        "SELECT created_ms, provider::bytea, model::bytea, tokens, reply FROM tollgate_cache"
        " WHERE k = $1 AND created_ms > $2::int8",
        {PgParam::bytes(std::string(key)), PgParam::num(now_ms - ttl_ms)});
    give_back(std::move(conn));
    if (r.rows() == 0) return std::nullopt;
    found.created_ms = r.i64(0, 0);
    found.provider = r.bytes(0, 1);
    found.model = r.bytes(0, 2);
    found.tokens = static_cast<uint64_t>(r.i64(0, 3));
    found.reply = r.bytes(0, 4);
  } catch (const PgError& e) {
    failed("read", e.what());
    return std::nullopt;
  }
  // Another daemon's answer: kept here too, so the next hit reads no database.
  local_->put(key, found, ttl_ms);
  return found;
}

bool SharedAnswerStore::put(std::string_view key, const CachedAnswer& answer, int64_t ttl_ms) {
  const bool stored = local_->put(key, answer, ttl_ms);
  if (!stored) return false;  // too large for the cache
  bool trim = false;
  {
    MutexLock lock(mu_);
    trim = ++puts_ % kTrimEvery == 0;
  }
  try {
    auto conn = take();
    conn->query(
        "INSERT INTO tollgate_cache (k, created_ms, provider, model, tokens, reply)"
        " VALUES ($1, $2::int8, $3, $4, $5::int8, $6) ON CONFLICT (k) DO UPDATE SET"
        " created_ms = excluded.created_ms, provider = excluded.provider,"
        " model = excluded.model, tokens = excluded.tokens, reply = excluded.reply",
        {PgParam::bytes(std::string(key)), PgParam::num(answer.created_ms),
         PgParam::text(answer.provider), PgParam::text(answer.model),
         PgParam::num(static_cast<int64_t>(answer.tokens)), PgParam::bytes(answer.reply)});
    conn->query("DELETE FROM tollgate_cache WHERE created_ms <= $1::int8",
                {PgParam::num(answer.created_ms - ttl_ms)});
    if (trim) {
      // Newest first; everything past max_bytes goes (an entry counted
      // about as the local store counts it: key, answer, names, numbers).
      conn->query(
          "DELETE FROM tollgate_cache WHERE k IN (SELECT k FROM (SELECT k, sum(octet_length(k) +"
          " octet_length(reply) + octet_length(provider) + octet_length(model) + 16)"
          " OVER (ORDER BY created_ms DESC, k) AS total FROM tollgate_cache) t"
          " WHERE total > $1::int8)",
          {PgParam::num(static_cast<int64_t>(options_.max_bytes))});
    }
    give_back(std::move(conn));
  } catch (const PgError& e) {
    failed("write", e.what());
  }
  return true;
}

StoreStats SharedAnswerStore::stats() const { return local_->stats(); }

}  // namespace tollgate::cache
