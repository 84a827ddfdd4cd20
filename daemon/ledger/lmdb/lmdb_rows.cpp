#include "daemon/ledger/lmdb/lmdb_rows.h"

#include "daemon/ledger/lmdb/ledger_tables.h"
#include "daemon/ledger/lmdb/lmdb_redo.h"

namespace tollgate::ledger::detail {
namespace {

constexpr std::string_view kMetaPeriod = "period";
constexpr std::string_view kMetaNextReservation = "next_reservation";
constexpr std::string_view kMetaLogSeq = "log_seq";
constexpr std::string_view kMetaProbe = "probe";
constexpr std::string_view kMetaPruneCursor = "prune_cursor";

// "agent\0key" (idempotency_key) back into its parts.
IdempotencyKey split_idempotency_key(std::string_view stored) {
  const size_t nul = stored.find('\0');
  if (nul == std::string_view::npos) return IdempotencyKey{std::string(stored), {}};
  return IdempotencyKey{std::string(stored.substr(0, nul)), std::string(stored.substr(nul + 1))};
}

uint64_t id_of(std::string_view key) {
  uint64_t id = 0;
  for (unsigned char c : key) id = (id << 8) | c;  // big-endian (u64_key)
  return id;
}

std::string stored_key(const IdempotencyKey& key) { return idempotency_key(key.agent, key.key); }

std::string stored_key(const BudgetKey& key) {
  return usage_key(key.period, key.scope, key.provider);
}

}  // namespace

// ---- reads

LedgerMeta LmdbRows::meta() const {
  LedgerMeta m;
  m.period = meta_string(txn_, t_, kMetaPeriod);
  m.next_reservation = meta_u64(txn_, t_, kMetaNextReservation).value_or(1);
  m.log_seq = meta_u64(txn_, t_, kMetaLogSeq).value_or(0);
  if (auto cursor = meta_string(txn_, t_, kMetaPruneCursor)) {
    m.prune_cursor = split_idempotency_key(*cursor);
  }
  return m;
}

UsageRow LmdbRows::usage(const BudgetKey& key) const {
  return load_usage(txn_, t_, stored_key(key));
}

std::vector<std::pair<BudgetKey, UsageRow>> LmdbRows::usage_from(const std::string& prefix) const {
  std::vector<std::pair<BudgetKey, UsageRow>> out;
  Cursor cur(txn_, t_.usage);
  bool ok = prefix.empty() ? cur.first() : cur.seek(prefix);
  for (; ok && cur.key().starts_with(prefix); ok = cur.next()) {
    const auto key = parse_usage_key(cur.key());
    if (!key) continue;
    out.emplace_back(BudgetKey{std::string(key->period), std::string(key->scope),
                               std::string(key->provider)},
                     decode_usage(cur.value()));
  }
  return out;
}

std::vector<std::pair<BudgetKey, UsageRow>> LmdbRows::usage_rows(
    const std::string& period, const std::optional<std::string>& scope) const {
  return usage_from(scope ? usage_prefix(period, *scope) : usage_prefix(period));
}

std::vector<std::pair<BudgetKey, UsageRow>> LmdbRows::all_usage_rows() const {
  return usage_from({});
}

std::optional<ReservationRow> LmdbRows::reservation(uint64_t id) const {
  const auto bytes = kv_get(txn_, t_.reservations, u64_key(id));
  if (!bytes) return std::nullopt;
  return decode_reservation(*bytes);
}

bool LmdbRows::has_reservation(uint64_t id) const {
  return kv_get(txn_, t_.reservations, u64_key(id)).has_value();
}

std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> LmdbRows::reservations() const {
  std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> out;
  Cursor cur(txn_, t_.reservations);
  for (bool ok = cur.first(); ok; ok = cur.next()) {
    out.emplace_back(id_of(cur.key()), decode_reservation(cur.value()));
  }
  return out;
}

bool LmdbRows::fired(const FiredKey& key) const {
  const BudgetKey& b = key.budget;
  return kv_get(txn_, t_.alerts_fired, fired_key(b.period, b.scope, b.provider, key.level))
      .has_value();
}

std::optional<IdempotencyRecord> LmdbRows::idempotency(const IdempotencyKey& key) const {
  const auto bytes = kv_get(txn_, t_.idempotency, stored_key(key));
  if (!bytes) return std::nullopt;
  return decode_idempotency(*bytes);
}

std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>>
LmdbRows::idempotency_rows(const std::optional<IdempotencyKey>& from, size_t limit) const {
  std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> out;
  Cursor cur(txn_, t_.idempotency);
  bool ok = from ? cur.seek(stored_key(*from)) : cur.first();
  for (; ok && out.size() < limit; ok = cur.next()) {
    out.emplace_back(split_idempotency_key(cur.key()), decode_idempotency(cur.value()));
  }
  return out;
}

uint64_t LmdbRows::day_count(const DayKey& key) const {
  const auto bytes = kv_get(txn_, t_.rate_day, day_key(key.provider, key.day));
  return bytes ? decode_u64(*bytes).value_or(0) : uint64_t{0};
}

std::vector<int64_t> LmdbRows::minute_sends(const std::string& provider) const {
  const auto bytes = kv_get(txn_, t_.rate_minute, provider);
  return bytes ? decode_sends(*bytes) : std::vector<int64_t>{};
}

std::optional<LimitOverride> LmdbRows::limit_override(const LimitKey& key) const {
  const auto bytes = kv_get(txn_, t_.limits, limit_key(key));
  if (!bytes) return std::nullopt;
  return decode_limit(*bytes);
}

std::vector<std::pair<LimitKey, LimitOverride>> LmdbRows::limit_overrides() const {
  std::vector<std::pair<LimitKey, LimitOverride>> out;
  Cursor cur(txn_, t_.limits);
  for (bool ok = cur.first(); ok; ok = cur.next()) {
    auto key = parse_limit_key(cur.key());
    auto limit = decode_limit(cur.value());
    if (key && limit) out.emplace_back(std::move(*key), std::move(*limit));
  }
  return out;
}

DayUsage LmdbRows::day_usage(const DayUsageKey& key) const {
  const auto bytes = kv_get(txn_, t_.usage_day, day_usage_key(key.scope, key.day, key.provider));
  return bytes ? decode_day_usage(*bytes) : DayUsage{};
}

std::vector<std::pair<DayUsageKey, DayUsage>> LmdbRows::day_usage_rows(const std::string& scope,
                                                                       int64_t from_day,
                                                                       int64_t to_day) const {
  std::vector<std::pair<DayUsageKey, DayUsage>> out;
  Cursor cur(txn_, t_.usage_day);
  for (bool ok = cur.seek(day_usage_key(scope, from_day, "")); ok; ok = cur.next()) {
    auto key = parse_day_usage_key(cur.key());
    if (!key || key->scope != scope || key->day > to_day) break;
    out.emplace_back(std::move(*key), decode_day_usage(cur.value()));
  }
  return out;
}

std::vector<OutboxEntry> LmdbRows::outbox(const std::string& destination, uint64_t after_id,
                                          size_t limit) const {
  std::vector<OutboxEntry> out;
  if (after_id == UINT64_MAX) return out;
  const std::string prefix = destination + std::string(1, '\0');
  Cursor cur(txn_, t_.outbox);
  for (bool ok = cur.seek(outbox_key(destination, after_id + 1)); ok && out.size() < limit;
       ok = cur.next()) {
    if (cur.key().substr(0, prefix.size()) != prefix) break;
    if (auto alert = decode_alert(cur.value())) out.push_back(OutboxEntry{destination, *alert});
  }
  return out;
}

bool LmdbRows::has_outbox(const OutboxKey& key) const {
  return kv_get(txn_, t_.outbox, outbox_key(key.destination, key.id)).has_value();
}

std::vector<uint64_t> LmdbRows::outbox_ids(const std::string& destination) const {
  std::vector<uint64_t> out;
  const std::string prefix = destination + std::string(1, '\0');
  Cursor cur(txn_, t_.outbox);
  for (bool ok = cur.seek(prefix); ok; ok = cur.next()) {
    const std::string_view key = cur.key();
    if (key.substr(0, prefix.size()) != prefix || key.size() != prefix.size() + 8) break;
    out.push_back(id_of(key.substr(prefix.size())));
  }
  return out;
}

std::vector<std::string> LmdbRows::outbox_destinations() const {
  std::vector<std::string> out;
  Cursor cur(txn_, t_.outbox);
  for (bool ok = cur.first(); ok;) {
    const std::string_view key = cur.key();
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos) {
      ok = cur.next();
      continue;
    }
    out.emplace_back(key.substr(0, nul));
    // The next destination starts after every key with this prefix.
    ok = cur.seek(out.back() + std::string(1, '\1'));
  }
  return out;
}

uint64_t LmdbRows::outbox_depth() const {
  MDB_stat stat;
  check(mdb_stat(txn_, t_.outbox, &stat), "mdb_stat outbox");
  return stat.ms_entries;
}

void LmdbRows::visit_alerts(const std::function<bool(Alert&&)>& visit) const {
  Cursor cur(txn_, t_.alerts_log);
  for (bool ok = cur.last(); ok; ok = cur.prev()) {
    auto alert = decode_alert(cur.value());
    if (alert && !visit(std::move(*alert))) return;
  }
}

void LmdbRows::visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const {
  Cursor cur(txn_, t_.ledger_log);
  for (bool ok = cur.last(); ok; ok = cur.prev()) {
    auto record = decode_ledger_record(cur.value());
    if (record && !visit(std::move(*record))) return;
  }
}

std::vector<ResetRecord> LmdbRows::resets() const {
  std::vector<ResetRecord> out;
  Cursor cur(txn_, t_.resets);
  for (bool ok = cur.first(); ok; ok = cur.next()) {
    if (auto rec = decode_reset(cur.value())) out.push_back(std::move(*rec));
  }
  return out;
}

// ---- writes

void LmdbRows::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  kv_put(txn_, dbi, key, value);
  if (redo_ != nullptr) redo_put(*redo_, t_.index_of(dbi), key, value);
}

void LmdbRows::del(MDB_dbi dbi, std::string_view key) {
  // A delete of a missing key changes nothing, and replays as nothing.
  if (kv_del(txn_, dbi, key) && redo_ != nullptr) redo_del(*redo_, t_.index_of(dbi), key);
}

void LmdbRows::apply(const RowChanges& c) {
  for (const auto& [key, row] : c.usage) put(t_.usage, stored_key(key), encode_usage(row));
  for (const auto& [id, row] : c.reservations) {
    put_or_delete(t_.reservations, u64_key(id), row, encode_reservation);
  }
  for (const auto& [key, at_ms] : c.fired) {
    const BudgetKey& b = key.budget;
    put_or_delete(t_.alerts_fired, fired_key(b.period, b.scope, b.provider, key.level), at_ms,
                  [](int64_t at) { return encode_u64(static_cast<uint64_t>(at)); });
  }
  for (const auto& a : c.alerts) {
    put(t_.alerts_log, time_seq_key(a.at_ms, a.log_seq), encode_alert(a));
  }
  for (const auto& [seq, reset] : c.resets) {
    put(t_.resets, time_seq_key(reset.at_ms, seq), encode_reset(reset));
  }
  for (const auto& record : c.log) {
    put(t_.ledger_log, time_seq_key(record.at_ms, record.log_seq),
           encode_ledger_record(record));
  }
  for (const auto& [key, record] : c.idempotency) {
    put_or_delete(t_.idempotency, stored_key(key), record, encode_idempotency);
  }
  for (const auto& [key, count] : c.days) {
    put(t_.rate_day, day_key(key.provider, key.day), encode_u64(count));
  }
  for (const auto& [provider, sent] : c.minute_sends) {
    if (sent.empty()) {
      del(t_.rate_minute, provider);
    } else {
      put(t_.rate_minute, provider, encode_sends(sent));
    }
  }
  for (const auto& [key, limit] : c.limits) {
    put_or_delete(t_.limits, limit_key(key), limit, encode_limit);
  }
  for (const auto& [key, row] : c.day_usage) {
    put(t_.usage_day, day_usage_key(key.scope, key.day, key.provider),
           encode_day_usage(row));
  }
  for (const auto& [key, alert] : c.outbox) {
    put_or_delete(t_.outbox, outbox_key(key.destination, key.id), alert, encode_alert);
  }
  if (c.period) put(t_.meta, kMetaPeriod, *c.period);
  if (c.next_reservation) put(t_.meta, kMetaNextReservation, encode_u64(*c.next_reservation));
  if (c.log_seq) put(t_.meta, kMetaLogSeq, encode_u64(*c.log_seq));
  if (c.prune_cursor) {
    const std::optional<std::string> cursor =
        *c.prune_cursor ? std::optional<std::string>(stored_key(**c.prune_cursor)) : std::nullopt;
    put_or_delete(t_.meta, kMetaPruneCursor, cursor, [](const std::string& s) { return s; });
  }
}

void LmdbRows::probe() {
  const uint64_t n = meta_u64(txn_, t_, kMetaProbe).value_or(0) + 1;
  put(t_.meta, kMetaProbe, encode_u64(n));
}

}  // namespace tollgate::ledger::detail
