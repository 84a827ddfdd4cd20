#include "daemon/ledger/postgres/pg_rows.h"


#include "daemon/ledger/row_codec.h"

namespace tollgate::ledger::pg {
namespace {

using detail::decode_u64;
using detail::encode_u64;

constexpr size_t kVisitPage = 256;

PgParam table(RowTable t) { return PgParam::num(static_cast<int16_t>(t)); }

// The smallest key above every key that starts with prefix ("": none).
std::string prefix_end(std::string p) {
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (!p.empty()) p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

IdempotencyKey split_idempotency_key(std::string_view stored) {
  const size_t nul = stored.find('\0');
  if (nul == std::string_view::npos) return IdempotencyKey{std::string(stored), {}};
  return IdempotencyKey{std::string(stored.substr(0, nul)), std::string(stored.substr(nul + 1))};
}

uint64_t be64_tail(std::string_view key) {
  uint64_t id = 0;
  for (unsigned char c : key.substr(key.size() - 8)) id = (id << 8) | c;
  return id;
}

}  // namespace

// ---- the primitives

std::optional<std::string> PgRows::get(RowTable t, const std::string& key) const {
  const auto k = std::make_pair(static_cast<int16_t>(t), key);
  if (auto it = pending_.find(k); it != pending_.end()) return it->second;
  if (auto it = cache_.rows.find(k); it != cache_.rows.end()) return it->second;
  auto r = conn_.query("SELECT v FROM tollgate_rows WHERE tbl = $1 AND k = $2",
                       {table(t), PgParam::bytes(key)});
  std::optional<std::string> v;
  if (r.rows() > 0) v = r.bytes(0, 0);
  cache_.rows.emplace(k, v);
  return v;
}

void PgRows::put(RowTable t, const std::string& key, std::optional<std::string> value) {
  auto k = std::make_pair(static_cast<int16_t>(t), key);
  // The logs are written, never read back by key: no use caching them.
  if (!is_log_table(t)) cache_.rows.insert_or_assign(k, value);
  pending_.insert_or_assign(std::move(k), std::move(value));
}

PgRows::Rows PgRows::scan(RowTable t, const std::string& from, const std::string& to, size_t limit,
                          bool descending) const {
  flush();
  std::string sql = "SELECT k, v FROM tollgate_rows WHERE tbl = $1 AND k >= $2";
  std::vector<PgParam> params{table(t), PgParam::bytes(from)};
  if (!to.empty()) {
    sql += " AND k < $3";
    params.push_back(PgParam::bytes(to));
  }
  sql += descending ? " ORDER BY k DESC" : " ORDER BY k";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  auto r = conn_.query(sql, params);
  Rows out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.bytes(i, 0), r.bytes(i, 1));
  return out;
}

PgRows::Rows PgRows::scan_prefix(RowTable t, const std::string& prefix) const {
  return scan(t, prefix, prefix_end(prefix), 0);
}

void PgRows::visit_desc(RowTable t, const std::function<bool(const std::string&)>& visit) const {
  std::string below;  // "": the newest page
  for (;;) {
    const Rows page = scan(t, "", below, kVisitPage, true);
    for (const auto& [key, value] : page) {
      if (!visit(value)) return;
    }
    if (page.size() < kVisitPage) return;
    below = page.back().first;
  }
}

// ---- reads

LedgerMeta PgRows::meta() const {
  LedgerMeta m;
  m.period = get(RowTable::kMeta, kMetaPeriod);
  if (auto v = get(RowTable::kMeta, kMetaNextReservation)) {
    m.next_reservation = decode_u64(*v).value_or(1);
  }
  if (auto v = get(RowTable::kMeta, kMetaLogSeq)) m.log_seq = decode_u64(*v).value_or(0);
  if (auto cursor = get(RowTable::kMeta, kMetaPruneCursor)) {
    m.prune_cursor = split_idempotency_key(*cursor);
  }
  return m;
}

UsageRow PgRows::usage(const BudgetKey& key) const {
  const auto v = get(RowTable::kUsage, detail::usage_key(key.period, key.scope, key.provider));
  return v ? detail::decode_usage(*v) : UsageRow{};
}

std::vector<std::pair<BudgetKey, UsageRow>> PgRows::usage_rows(
    const std::string& period, const std::optional<std::string>& scope) const {
  const std::string prefix =
      scope ? detail::usage_prefix(period, *scope) : detail::usage_prefix(period);
  std::vector<std::pair<BudgetKey, UsageRow>> out;
  for (const auto& [k, v] : scan_prefix(RowTable::kUsage, prefix)) {
    const auto key = detail::parse_usage_key(k);
    if (!key) continue;
    out.emplace_back(BudgetKey{std::string(key->period), std::string(key->scope),
                               std::string(key->provider)},
                     detail::decode_usage(v));
  }
  return out;
}

std::vector<std::pair<BudgetKey, UsageRow>> PgRows::all_usage_rows() const {
  std::vector<std::pair<BudgetKey, UsageRow>> out;
  for (const auto& [k, v] : scan(RowTable::kUsage, "", "", 0)) {
    const auto key = detail::parse_usage_key(k);
    if (!key) continue;
    out.emplace_back(BudgetKey{std::string(key->period), std::string(key->scope),
                               std::string(key->provider)},
                     detail::decode_usage(v));
  }
  return out;
}

std::optional<std::string> PgRows::stored_reservation(uint64_t id) const {
  if (auto it = pending_reservations_.find(id); it != pending_reservations_.end()) {
    return it->second;
  }
  if (auto it = cache_.reservations.find(id); it != cache_.reservations.end()) return it->second;
  auto r = conn_.query("SELECT v FROM tollgate_reservations WHERE id = $1::int8",
                       {PgParam::num(static_cast<int64_t>(id))});
  std::optional<std::string> v;
  if (r.rows() > 0) v = r.bytes(0, 0);
  cache_.reservations.emplace(id, v);
  return v;
}

std::optional<ReservationRow> PgRows::reservation(uint64_t id) const {
  const auto v = stored_reservation(id);
  if (!v) return std::nullopt;
  return detail::decode_reservation(*v);
}

bool PgRows::has_reservation(uint64_t id) const { return stored_reservation(id).has_value(); }

std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> PgRows::reservations() const {
  flush();
  const bool expired_only = config_.recovery == RecoveryScope::kExpired;
  auto r = conn_.query(std::string("SELECT id, v FROM tollgate_reservations WHERE ") +
                           (expired_only ? "lease_until < now()" : "owner = $1 OR owner = $2") +
                           " ORDER BY id",
                       expired_only ? std::vector<PgParam>{}
                                    : std::vector<PgParam>{PgParam::text(config_.owner),
                                                           PgParam::text(kMigratedOwner)});
  std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.emplace_back(static_cast<uint64_t>(r.i64(i, 0)), detail::decode_reservation(r.bytes(i, 1)));
  }
  return out;
}

bool PgRows::fired(const FiredKey& key) const {
  const BudgetKey& b = key.budget;
  return get(RowTable::kFired, detail::fired_key(b.period, b.scope, b.provider, key.level))
      .has_value();
}

std::optional<IdempotencyRecord> PgRows::idempotency(const IdempotencyKey& key) const {
  const auto v = get(RowTable::kIdempotency, detail::idempotency_key(key.agent, key.key));
  if (!v) return std::nullopt;
  return detail::decode_idempotency(*v);
}

std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> PgRows::idempotency_rows(
    const std::optional<IdempotencyKey>& from, size_t limit) const {
  std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> out;
  if (limit == 0) return out;
  const std::string start = from ? detail::idempotency_key(from->agent, from->key) : std::string();
  for (const auto& [k, v] : scan(RowTable::kIdempotency, start, "", limit)) {
    out.emplace_back(split_idempotency_key(k), detail::decode_idempotency(v));
  }
  return out;
}

uint64_t PgRows::day_count(const DayKey& key) const {
  const auto v = get(RowTable::kRateDay, detail::day_key(key.provider, key.day));
  return v ? decode_u64(*v).value_or(0) : uint64_t{0};
}

std::vector<int64_t> PgRows::minute_sends(const std::string& provider) const {
  const auto v = get(RowTable::kRateMinute, provider);
  return v ? detail::decode_sends(*v) : std::vector<int64_t>{};
}

std::optional<LimitOverride> PgRows::limit_override(const LimitKey& key) const {
  const int16_t t = static_cast<int16_t>(RowTable::kLimits);
  if (!cache_.limits_loaded) {
    for (auto& [k, v] : scan(RowTable::kLimits, "", "", 0)) {
      cache_.rows.emplace(std::make_pair(t, std::move(k)), std::move(v));
    }
    cache_.limits_loaded = true;
  }
  const auto k = std::make_pair(t, detail::limit_key(key));
  std::optional<std::string> v;
  if (auto it = pending_.find(k); it != pending_.end()) {
    v = it->second;
  } else if (auto cached = cache_.rows.find(k); cached != cache_.rows.end()) {
    v = cached->second;
  }
  if (!v) return std::nullopt;
  return detail::decode_limit(*v);
}

std::vector<std::pair<LimitKey, LimitOverride>> PgRows::limit_overrides() const {
  std::vector<std::pair<LimitKey, LimitOverride>> out;
  for (const auto& [k, v] : scan(RowTable::kLimits, "", "", 0)) {
    auto key = detail::parse_limit_key(k);
    auto limit = detail::decode_limit(v);
    if (key && limit) out.emplace_back(std::move(*key), std::move(*limit));
  }
  return out;
}

DayUsage PgRows::day_usage(const DayUsageKey& key) const {
  const auto v = get(RowTable::kUsageDay, detail::day_usage_key(key.scope, key.day, key.provider));
  return v ? detail::decode_day_usage(*v) : DayUsage{};
}

std::vector<std::pair<DayUsageKey, DayUsage>> PgRows::day_usage_rows(const std::string& scope,
                                                                     int64_t from_day,
                                                                     int64_t to_day) const {
  std::vector<std::pair<DayUsageKey, DayUsage>> out;
  const auto rows = scan(RowTable::kUsageDay, detail::day_usage_key(scope, from_day, ""),
                         prefix_end(scope + std::string(1, '\0')), 0);
  for (const auto& [k, v] : rows) {
    auto key = detail::parse_day_usage_key(k);
    if (!key || key->scope != scope || key->day > to_day) break;
    out.emplace_back(std::move(*key), detail::decode_day_usage(v));
  }
  return out;
}

std::vector<OutboxEntry> PgRows::outbox(const std::string& destination, uint64_t after_id,
                                        size_t limit) const {
  std::vector<OutboxEntry> out;
  if (after_id == UINT64_MAX || limit == 0) return out;
  const auto rows = scan(RowTable::kOutbox, detail::outbox_key(destination, after_id + 1),
                         prefix_end(destination + std::string(1, '\0')), limit);
  for (const auto& [k, v] : rows) {
    if (auto alert = detail::decode_alert(v)) out.push_back(OutboxEntry{destination, *alert});
  }
  return out;
}

bool PgRows::has_outbox(const OutboxKey& key) const {
  return get(RowTable::kOutbox, detail::outbox_key(key.destination, key.id)).has_value();
}

std::vector<uint64_t> PgRows::outbox_ids(const std::string& destination) const {
  std::vector<uint64_t> out;
  const std::string prefix = destination + std::string(1, '\0');
  for (const auto& [k, v] : scan_prefix(RowTable::kOutbox, prefix)) {
    if (k.size() == prefix.size() + 8) out.push_back(be64_tail(k));
  }
  return out;
}

std::vector<std::string> PgRows::outbox_destinations() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : scan(RowTable::kOutbox, "", "", 0)) {
    const size_t nul = k.find('\0');
    if (nul == std::string::npos) continue;
    if (out.empty() || out.back() != k.substr(0, nul)) out.push_back(k.substr(0, nul));
  }
  return out;
}

uint64_t PgRows::outbox_depth() const {
  flush();
  auto r = conn_.query("SELECT count(*)::int8 FROM tollgate_rows WHERE tbl = $1",
                       {table(RowTable::kOutbox)});
  return static_cast<uint64_t>(r.i64(0, 0));
}

void PgRows::visit_alerts(const std::function<bool(Alert&&)>& visit) const {
  visit_desc(RowTable::kAlerts, [&](const std::string& v) {
    auto alert = detail::decode_alert(v);
    return !alert || visit(std::move(*alert));
  });
}

void PgRows::visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const {
  visit_desc(RowTable::kLedgerLog, [&](const std::string& v) {
    auto record = detail::decode_ledger_record(v);
    return !record || visit(std::move(*record));
  });
}

std::vector<ResetRecord> PgRows::resets() const {
  std::vector<ResetRecord> out;
  for (const auto& [k, v] : scan(RowTable::kResets, "", "", 0)) {
    if (auto rec = detail::decode_reset(v)) out.push_back(std::move(*rec));
  }
  return out;
}

}  // namespace tollgate::ledger::pg
