#include "daemon/ledger/memory/memory_tables.h"

namespace tollgate::ledger {
namespace {

// Writes each key's new row, or erases it for nullopt.
template <class Map, class Changes>
void put_or_erase(Map& map, const Changes& changes) {
  for (const auto& [key, row] : changes) {
    if (row) {
      map.insert_or_assign(key, *row);
    } else {
      map.erase(key);
    }
  }
}

template <class Map, class Visit>
void visit_newest_first(const Map& map, const Visit& visit) {
  for (auto it = map.rbegin(); it != map.rend(); ++it) {
    auto copy = it->second;
    if (!visit(std::move(copy))) return;
  }
}

}  // namespace

UsageRow MemoryRows::usage(const BudgetKey& key) const {
  const auto it = t_.usage.find(key);
  return it == t_.usage.end() ? UsageRow{} : it->second;
}

std::vector<std::pair<BudgetKey, UsageRow>> MemoryRows::usage_rows(
    const std::string& period, const std::optional<std::string>& scope) const {
  std::vector<std::pair<BudgetKey, UsageRow>> out;
  auto it = t_.usage.lower_bound(BudgetKey{period, scope.value_or(""), ""});
  for (; it != t_.usage.end() && it->first.period == period; ++it) {
    if (scope && it->first.scope != *scope) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::vector<std::pair<BudgetKey, UsageRow>> MemoryRows::all_usage_rows() const {
  return {t_.usage.begin(), t_.usage.end()};
}

std::optional<ReservationRow> MemoryRows::reservation(uint64_t id) const {
  const auto it = t_.reservations.find(id);
  if (it == t_.reservations.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<uint64_t, std::optional<ReservationRow>>> MemoryRows::reservations() const {
  return {t_.reservations.begin(), t_.reservations.end()};
}

std::optional<IdempotencyRecord> MemoryRows::idempotency(const IdempotencyKey& key) const {
  const auto it = t_.idempotency.find(key);
  if (it == t_.idempotency.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>>
MemoryRows::idempotency_rows(const std::optional<IdempotencyKey>& from, size_t limit) const {
  std::vector<std::pair<IdempotencyKey, std::optional<IdempotencyRecord>>> out;
  auto it = from ? t_.idempotency.lower_bound(*from) : t_.idempotency.begin();
  for (; it != t_.idempotency.end() && out.size() < limit; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

uint64_t MemoryRows::day_count(const DayKey& key) const {
  const auto it = t_.days.find(key);
  return it == t_.days.end() ? 0 : it->second;
}

std::vector<int64_t> MemoryRows::minute_sends(const std::string& provider) const {
  const auto it = t_.minute_sends.find(provider);
  return it == t_.minute_sends.end() ? std::vector<int64_t>{} : it->second;
}

std::optional<LimitOverride> MemoryRows::limit_override(const LimitKey& key) const {
  const auto it = t_.limits.find(key);
  if (it == t_.limits.end()) return std::nullopt;
  return it->second;
}

DayUsage MemoryRows::day_usage(const DayUsageKey& key) const {
  const auto it = t_.day_usage.find(key);
  return it == t_.day_usage.end() ? DayUsage{} : it->second;
}

std::vector<std::pair<DayUsageKey, DayUsage>> MemoryRows::day_usage_rows(const std::string& scope,
                                                                         int64_t from_day,
                                                                         int64_t to_day) const {
  std::vector<std::pair<DayUsageKey, DayUsage>> out;
  auto it = t_.day_usage.lower_bound(DayUsageKey{scope, from_day, ""});
  for (; it != t_.day_usage.end() && it->first.scope == scope && it->first.day <= to_day; ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::vector<OutboxEntry> MemoryRows::outbox(const std::string& destination, uint64_t after_id,
                                            size_t limit) const {
  std::vector<OutboxEntry> out;
  if (after_id == UINT64_MAX) return out;
  auto it = t_.outbox.lower_bound(OutboxKey{destination, after_id + 1});
  for (; it != t_.outbox.end() && it->first.destination == destination && out.size() < limit;
       ++it) {
    out.push_back(OutboxEntry{destination, it->second});
  }
  return out;
}

std::vector<uint64_t> MemoryRows::outbox_ids(const std::string& destination) const {
  std::vector<uint64_t> out;
  for (auto it = t_.outbox.lower_bound(OutboxKey{destination, 0});
       it != t_.outbox.end() && it->first.destination == destination; ++it) {
    out.push_back(it->first.id);
  }
  return out;
}

std::vector<std::string> MemoryRows::outbox_destinations() const {
  std::vector<std::string> out;
  for (const auto& [key, alert] : t_.outbox) {
    if (out.empty() || out.back() != key.destination) out.push_back(key.destination);
  }
  return out;
}

void MemoryRows::visit_alerts(const std::function<bool(Alert&&)>& visit) const {
  visit_newest_first(t_.alerts, visit);
}

void MemoryRows::visit_ledger_log(const std::function<bool(LedgerRecord&&)>& visit) const {
  visit_newest_first(t_.log, visit);
}

std::vector<ResetRecord> MemoryRows::resets() const {
  std::vector<ResetRecord> out;
  out.reserve(t_.resets.size());
  for (const auto& [key, record] : t_.resets) out.push_back(record);
  return out;
}

void MemoryRows::apply(const RowChanges& c) {
  for (const auto& [key, row] : c.usage) t_.usage.insert_or_assign(key, row);
  put_or_erase(t_.reservations, c.reservations);
  put_or_erase(t_.fired, c.fired);
  put_or_erase(t_.idempotency, c.idempotency);
  for (const auto& [key, count] : c.days) t_.days.insert_or_assign(key, count);
  for (const auto& [provider, sent] : c.minute_sends) {
    if (sent.empty()) {
      t_.minute_sends.erase(provider);
    } else {
      t_.minute_sends.insert_or_assign(provider, sent);
    }
  }
  put_or_erase(t_.limits, c.limits);
  for (const auto& [key, row] : c.day_usage) t_.day_usage.insert_or_assign(key, row);
  put_or_erase(t_.outbox, c.outbox);
  for (const auto& a : c.alerts) t_.alerts.insert_or_assign(MemoryTables::LogKey{a.at_ms, a.log_seq}, a);
  for (const auto& [seq, reset] : c.resets) {
    t_.resets.insert_or_assign(MemoryTables::LogKey{reset.at_ms, seq}, reset);
  }
  for (const auto& record : c.log) {
    t_.log.insert_or_assign(MemoryTables::LogKey{record.at_ms, record.log_seq}, record);
  }
  if (c.period) t_.meta.period = *c.period;
  if (c.next_reservation) t_.meta.next_reservation = *c.next_reservation;
  if (c.log_seq) t_.meta.log_seq = *c.log_seq;
  if (c.prune_cursor) t_.meta.prune_cursor = *c.prune_cursor;
}

}  // namespace tollgate::ledger
