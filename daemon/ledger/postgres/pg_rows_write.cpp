// PgRows' writes: RowChanges buffered, then sent as a few multi-row
// statements with the log of changed keys (pg_rows.h), and the writer
// cache's refresh from that log.
#include <fmt/format.h>

#include <cctype>
#include <iterator>

#include "daemon/ledger/postgres/pg_rows.h"
#include "daemon/ledger/row_codec.h"

namespace tollgate::ledger::pg {
namespace {

using detail::decode_u64;
using detail::encode_u64;

// Rows per multi-row statement (3 or 4 parameters each; libpq allows 65535).
constexpr size_t kRowsPerStatement = 1000;
// The `tbl` of a reservation id (8 bytes, big-endian) in tollgate_changes.
constexpr int16_t kReservationTable = 0;

uint64_t be64(std::string_view key) {
  uint64_t id = 0;
  for (unsigned char c : key.substr(key.size() - 8)) id = (id << 8) | c;
  return id;
}

// "($1::smallint, $2::bytea), ..." for rows of `width` parameters from `first`.
std::string placeholders(size_t rows, const std::vector<const char*>& casts) {
  fmt::memory_buffer out;
  size_t n = 1;
  for (size_t r = 0; r < rows; ++r) {
    fmt::format_to(std::back_inserter(out), "{}(", r == 0 ? "" : ",");
    for (size_t c = 0; c < casts.size(); ++c) {
      fmt::format_to(std::back_inserter(out), "{}${}{}", c == 0 ? "" : ",", n++, casts[c]);
    }
    out.push_back(')');
  }
  return fmt::to_string(out);
}

}  // namespace

void PgRows::flush() const {
  std::vector<PgParam> changed;  // (gen, tbl, key) of every changed row
  if (config_.generation >= 0) {
    for (const auto& [key, value] : pending_) {
      const auto t = static_cast<RowTable>(key.first);
      if (is_log_table(t)) continue;
      changed.push_back(PgParam::num(config_.generation));
      changed.push_back(PgParam::num(key.first));
      changed.push_back(PgParam::bytes(key.second));
    }
    for (const auto& [id, value] : pending_reservations_) {
      changed.push_back(PgParam::num(config_.generation));
      changed.push_back(PgParam::num(kReservationTable));
      changed.push_back(PgParam::bytes(detail::u64_key(id)));
    }
  }
  flush_rows();
  flush_reservations();
  send_rows("INSERT INTO tollgate_changes (gen, tbl, k) VALUES {}", {"::int8", "::smallint", "::bytea"},
            changed);
  announce_alerts();
}

void PgRows::announce_alerts() const {
  if (config_.alert_channel.empty() || pending_alerts_.empty()) return;
  std::vector<PgParam> params;
  for (const std::string& key : pending_alerts_) {
    params.push_back(PgParam::text(config_.alert_channel));
    params.push_back(PgParam::text(alert_payload(config_.owner, key)));
  }
  pending_alerts_.clear();
  send_rows("SELECT pg_notify(c, p) FROM (VALUES {}) AS n (c, p)", {"::text", "::text"}, params);
}

std::string alert_payload(const std::string& owner, const std::string& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = owner + " ";
  for (unsigned char c : key) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> parse_alert_payload(const std::string& payload) {
  const size_t space = payload.rfind(' ');
  if (space == std::string::npos || (payload.size() - space - 1) % 2 != 0) return std::nullopt;
  std::string key;
  for (size_t i = space + 1; i + 1 < payload.size(); i += 2) {
    const int hi = std::isxdigit(static_cast<unsigned char>(payload[i])) ? std::stoi(payload.substr(i, 1), nullptr, 16) : -1;
    const int lo = std::isxdigit(static_cast<unsigned char>(payload[i + 1])) ? std::stoi(payload.substr(i + 1, 1), nullptr, 16) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    key.push_back(static_cast<char>(hi * 16 + lo));
  }
  return std::make_pair(payload.substr(0, space), std::move(key));
}

void refresh(PgConn& conn, RowCache& cache, int64_t now) {
  // Never more than the log keeps (prune_changes with kKeepChanges).
  constexpr int64_t kMaxBehind = kKeepChanges;
  if (cache.generation == now) return;
  if (cache.generation < 0 || now < cache.generation || now - cache.generation > kMaxBehind) {
    cache.clear();
    cache.generation = now;
    return;
  }
  auto r = conn.query(
      "SELECT c.tbl::int8, c.k, r.v FROM (SELECT DISTINCT tbl, k FROM tollgate_changes"
      " WHERE gen > $1::int8) c LEFT JOIN tollgate_rows r ON r.tbl = c.tbl AND r.k = c.k",
      {PgParam::num(cache.generation)});
  for (int i = 0; i < r.rows(); ++i) {
    const auto t = static_cast<int16_t>(r.i64(i, 0));
    std::string key = r.bytes(i, 1);
    if (t == kReservationTable) {
      cache.reservations.erase(be64(key));  // read again when needed
      continue;
    }
    std::optional<std::string> v;
    if (!r.null(i, 2)) v = r.bytes(i, 2);
    cache.rows.insert_or_assign(std::make_pair(t, std::move(key)), std::move(v));
  }
  cache.generation = now;
}

void prune_changes(PgConn& conn, int64_t now) {
  conn.query("DELETE FROM tollgate_changes WHERE gen < $1::int8",
             {PgParam::num(now - kKeepChanges)});
}

void PgRows::flush_rows() const {
  std::vector<PgParam> puts;
  std::vector<PgParam> dels;
  for (const auto& [key, value] : pending_) {
    auto& params = value ? puts : dels;
    params.push_back(PgParam::num(key.first));
    params.push_back(PgParam::bytes(key.second));
    if (value) params.push_back(PgParam::bytes(*value));
  }
  pending_.clear();
  send_rows("INSERT INTO tollgate_rows (tbl, k, v) VALUES {}"
            " ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
            {"::smallint", "::bytea", "::bytea"}, puts);
  send_rows("DELETE FROM tollgate_rows WHERE (tbl, k) IN ({})", {"::smallint", "::bytea"}, dels);
}

void PgRows::flush_reservations() const {
  std::vector<PgParam> puts;
  std::string dels;
  for (const auto& [id, value] : pending_reservations_) {
    (value ? reservations_put_ : reservations_deleted_).push_back(id);
    if (value) {
      puts.push_back(PgParam::num(static_cast<int64_t>(id)));
      puts.push_back(PgParam::text(config_.owner));
      puts.push_back(PgParam::num(config_.lease_seconds));
      puts.push_back(PgParam::bytes(*value));
    } else {
      fmt::format_to(std::back_inserter(dels), "{}{}", dels.empty() ? "" : ",", id);
    }
  }
  pending_reservations_.clear();
  // The lease runs on the database's clock: every daemon compares the same.
  send_rows("INSERT INTO tollgate_reservations (id, owner, lease_until, v) "
            "SELECT id, owner, now() + lease * interval '1 second', v FROM (VALUES {})"
            " AS r (id, owner, lease, v) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v",
            {"::int8", "::text", "::int8", "::bytea"}, puts);
  if (!dels.empty()) {
    conn_.query("DELETE FROM tollgate_reservations WHERE id = ANY($1::int8[])",
                {PgParam::text(fmt::format("{{{}}}", dels))});
  }
}

void PgRows::send_rows(const char* sql, const std::vector<const char*>& casts,
                       const std::vector<PgParam>& params) const {
  const size_t width = casts.size();
  const size_t per_statement = kRowsPerStatement * width;
  for (size_t at = 0; at < params.size(); at += per_statement) {
    const size_t n = std::min(per_statement, params.size() - at);
    const std::vector<PgParam> chunk(params.begin() + static_cast<std::ptrdiff_t>(at),
                                     params.begin() + static_cast<std::ptrdiff_t>(at + n));
    conn_.query(fmt::format(fmt::runtime(sql), placeholders(n / width, casts)), chunk);
  }
}

// ---- writes

void PgRows::apply(const RowChanges& c) {
  using namespace detail;
  for (const auto& [k, row] : c.usage) {
    put(RowTable::kUsage, usage_key(k.period, k.scope, k.provider), encode_usage(row));
  }
  for (const auto& [id, row] : c.reservations) {
    std::optional<std::string> v;
    if (row) v = encode_reservation(*row);
    cache_.reservations.insert_or_assign(id, v);
    pending_reservations_.insert_or_assign(id, std::move(v));
  }
  for (const auto& [k, at_ms] : c.fired) {
    const BudgetKey& b = k.budget;
    std::optional<std::string> v;
    if (at_ms) v = encode_u64(static_cast<uint64_t>(*at_ms));
    put(RowTable::kFired, fired_key(b.period, b.scope, b.provider, k.level), std::move(v));
  }
  for (const auto& a : c.alerts) {
    const std::string key = time_seq_key(a.at_ms, a.log_seq);
    put(RowTable::kAlerts, key, encode_alert(a));
    if (!config_.owner.empty()) put(RowTable::kOrigin, key, config_.owner);
    pending_alerts_.push_back(key);
  }
  for (const auto& [seq, reset] : c.resets) {
    put(RowTable::kResets, time_seq_key(reset.at_ms, seq), encode_reset(reset));
  }
  for (const auto& r : c.log) {
    const std::string key = time_seq_key(r.at_ms, r.log_seq);
    put(RowTable::kLedgerLog, key, encode_ledger_record(r));
    if (!config_.owner.empty()) put(RowTable::kOrigin, key, config_.owner);
    pending_alerts_.push_back(key);  // announced like an alert (the key says which)
  }
  for (const auto& [k, record] : c.idempotency) {
    std::optional<std::string> v;
    if (record) v = encode_idempotency(*record);
    put(RowTable::kIdempotency, idempotency_key(k.agent, k.key), std::move(v));
  }
  for (const auto& [k, count] : c.days) put(RowTable::kRateDay, day_key(k.provider, k.day), encode_u64(count));
  for (const auto& [provider, sent] : c.minute_sends) {
    std::optional<std::string> v;
    if (!sent.empty()) v = encode_sends(sent);
    put(RowTable::kRateMinute, provider, std::move(v));
  }
  for (const auto& [k, limit] : c.limits) {
    std::optional<std::string> v;
    if (limit) v = encode_limit(*limit);
    put(RowTable::kLimits, limit_key(k), std::move(v));
  }
  for (const auto& [k, row] : c.day_usage) {
    put(RowTable::kUsageDay, day_usage_key(k.scope, k.day, k.provider), encode_day_usage(row));
  }
  for (const auto& [k, alert] : c.outbox) {
    std::optional<std::string> v;
    if (alert) v = encode_alert(*alert);
    put(RowTable::kOutbox, outbox_key(k.destination, k.id), std::move(v));
  }
  if (c.period) put(RowTable::kMeta, kMetaPeriod, *c.period);
  if (c.next_reservation) put(RowTable::kMeta, kMetaNextReservation, encode_u64(*c.next_reservation));
  if (c.log_seq) put(RowTable::kMeta, kMetaLogSeq, encode_u64(*c.log_seq));
  if (c.prune_cursor) {
    std::optional<std::string> v;
    if (*c.prune_cursor) v = idempotency_key((*c.prune_cursor)->agent, (*c.prune_cursor)->key);
    put(RowTable::kMeta, kMetaPruneCursor, std::move(v));
  }
}

void PgRows::probe() {
  const auto v = get(RowTable::kMeta, kMetaProbe);
  const uint64_t n = (v ? decode_u64(*v).value_or(0) : 0) + 1;
  put(RowTable::kMeta, kMetaProbe, encode_u64(n));
}

}  // namespace tollgate::ledger::pg
