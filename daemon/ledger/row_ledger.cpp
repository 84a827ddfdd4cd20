#include "daemon/ledger/row_ledger.h"

#include <utility>

#include "daemon/ledger/forecast.h"
#include "daemon/ledger/reads.h"

namespace tollgate::ledger {
namespace {

// f(rows, policy) in one read of the ledger.
template <class T, class F>
Result<T> read(const RowLedger& ledger, F f) {
  std::optional<T> out;
  auto status = ledger.read_rows(
      [&](const LedgerRows& rows, const BudgetPolicy& policy) { out = f(rows, policy); });
  if (!status) return status.error();
  return std::move(*out);
}

}  // namespace

// ---- writes

void RowLedger::set_limit_async(SetLimitRequest request, Callback<SetLimitOutcome> done) {
  submit(detail::set_limit_op(std::move(request), std::move(done)));
}

void RowLedger::check_forecasts_async(int64_t now_ms, Callback<std::vector<Alert>> done) {
  submit(detail::forecasts_op(now_ms, std::move(done)));
}

void RowLedger::outbox_done_async(std::string destination, uint64_t id, Callback<bool> done) {
  submit(detail::outbox_done_op(OutboxKey{std::move(destination), id}, std::move(done)));
}

void RowLedger::outbox_drop_async(std::string destination, Callback<uint64_t> done) {
  submit(detail::outbox_drop_op(std::move(destination), std::move(done)));
}

void RowLedger::reserve_async(ReserveRequest request, Callback<ReserveOutcome> done) {
  submit(detail::reserve_op(std::move(request), std::move(done)));
}

void RowLedger::reevaluate_levels_async(int64_t now_ms, Callback<std::vector<Alert>> done) {
  submit(detail::levels_op(now_ms, std::move(done)));
}

void RowLedger::commit_async(CommitRequest request, Callback<CommitOutcome> done) {
  submit(detail::commit_op(request, std::nullopt, std::move(done)));
}

void RowLedger::commit_async(CommitRequest request, StoredReply stored,
                             Callback<CommitOutcome> done) {
  submit(detail::commit_op(request, std::move(stored), std::move(done)));
}

void RowLedger::release_async(uint64_t reservation_id, Callback<ReleaseOutcome> done) {
  submit(detail::release_op(reservation_id, std::move(done)));
}

void RowLedger::reset_async(std::string agent, std::optional<std::string> provider,
                            int64_t now_ms, Callback<ResetOutcome> done) {
  submit(detail::reset_op(std::move(agent), std::move(provider), now_ms, std::move(done)));
}

void RowLedger::count_request_async(std::string provider, int64_t now_ms,
                                    Callback<uint64_t> done) {
  submit(detail::count_request_op(std::move(provider), now_ms, std::move(done)));
}

void RowLedger::idempotency_put_async(std::string agent, std::string key, std::string reply,
                                      int64_t expiry_ms, Callback<bool> done) {
  submit(detail::idempotency_put_op(std::move(agent), std::move(key), std::move(reply), expiry_ms,
                                    std::move(done)));
}

void RowLedger::idempotency_forget_async(std::string agent, std::string key,
                                         Callback<bool> done) {
  submit(detail::idempotency_forget_op(std::move(agent), std::move(key), std::move(done)));
}

void RowLedger::prune_async(int64_t now_ms, Callback<PruneOutcome> done) {
  submit(detail::prune_op(now_ms, prune_rows_per_step_, std::move(done)));
}

void RowLedger::probe_async(Callback<bool> done) { submit(detail::probe_op(std::move(done))); }

// ---- reads

Result<std::string> RowLedger::current_period(int64_t now_ms) const {
  return read<std::string>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return reads::current_period(rows, now_ms); });
}

Result<ProviderUsage> RowLedger::usage(const std::string& agent, const std::string& period) const {
  return read<ProviderUsage>(*this, [&](const LedgerRows& rows, const BudgetPolicy& policy) {
    return reads::usage(rows, policy, agent, period);
  });
}

Result<BudgetSnapshot> RowLedger::snapshot(const std::string& agent, int64_t now_ms) const {
  return read<BudgetSnapshot>(*this, [&](const LedgerRows& rows, const BudgetPolicy& policy) {
    return reads::snapshot(rows, policy, agent, now_ms);
  });
}

Result<std::vector<std::string>> RowLedger::agents(const std::string& period) const {
  return read<std::vector<std::string>>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return reads::agents(rows, period); });
}

Result<std::vector<std::string>> RowLedger::all_agents() const {
  return read<std::vector<std::string>>(
      *this, [](const LedgerRows& rows, const BudgetPolicy&) { return reads::all_agents(rows); });
}

Result<std::vector<HistoryMonth>> RowLedger::history(const std::string& agent, size_t months,
                                                     int64_t now_ms) const {
  return read<std::vector<HistoryMonth>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::history(rows, agent, months, now_ms);
  });
}

Result<std::vector<Alert>> RowLedger::alerts(size_t limit, std::optional<int64_t> since_ms,
                                             const std::optional<std::string>& agent) const {
  return read<std::vector<Alert>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::alerts(rows, limit, since_ms, agent);
  });
}

Result<std::vector<ResetRecord>> RowLedger::resets(const std::optional<std::string>& agent) const {
  return read<std::vector<ResetRecord>>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return reads::resets(rows, agent); });
}

Result<std::vector<LedgerRecord>> RowLedger::ledger_events(size_t limit,
                                                           std::optional<int64_t> since_ms) const {
  return read<std::vector<LedgerRecord>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::ledger_events(rows, limit, since_ms);
  });
}

Result<EmergencyStatus> RowLedger::emergency_status(int64_t now_ms) const {
  return read<EmergencyStatus>(*this, [&](const LedgerRows& rows, const BudgetPolicy& policy) {
    return reads::emergency_status(rows, policy, now_ms);
  });
}

Result<std::optional<std::string>> RowLedger::idempotency_get(const std::string& agent,
                                                              const std::string& key,
                                                              int64_t now_ms) const {
  return read<std::optional<std::string>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::idempotency_get(rows, agent, key, now_ms);
  });
}

Result<std::optional<IdempotencyRecord>> RowLedger::idempotency_record(const std::string& agent,
                                                                       const std::string& key,
                                                                       int64_t now_ms) const {
  return read<std::optional<IdempotencyRecord>>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) {
        return reads::idempotency_record(rows, agent, key, now_ms);
      });
}

Result<uint64_t> RowLedger::requests_today(const std::string& provider, int64_t now_ms) const {
  return read<uint64_t>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::requests_today(rows, provider, now_ms);
  });
}

Result<uint32_t> RowLedger::requests_this_minute(const std::string& provider,
                                                 int64_t now_ms) const {
  return read<uint32_t>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::requests_this_minute(rows, provider, now_ms);
  });
}

Result<std::vector<LimitEntry>> RowLedger::limits() const {
  return read<std::vector<LimitEntry>>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return reads::limits(rows); });
}

Result<Forecast> RowLedger::forecast(const std::optional<std::string>& scope,
                                     int64_t now_ms) const {
  return read<Forecast>(*this, [&](const LedgerRows& rows, const BudgetPolicy& policy) {
    return reads::forecast(rows, policy, scope, now_ms);
  });
}

Result<std::vector<DailyUsage>> RowLedger::daily(const std::string& scope, size_t days,
                                                 int64_t now_ms) const {
  return read<std::vector<DailyUsage>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return reads::daily(rows, scope, days, now_ms);
  });
}

Result<std::vector<OutboxEntry>> RowLedger::outbox(const std::string& destination,
                                                   uint64_t after_id, size_t limit) const {
  return read<std::vector<OutboxEntry>>(*this, [&](const LedgerRows& rows, const BudgetPolicy&) {
    return rows.outbox(destination, after_id, limit);
  });
}

Result<uint64_t> RowLedger::outbox_depth() const {
  return read<uint64_t>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return rows.outbox_depth(); });
}

Result<std::vector<std::string>> RowLedger::outbox_destinations() const {
  return read<std::vector<std::string>>(
      *this, [&](const LedgerRows& rows, const BudgetPolicy&) { return rows.outbox_destinations(); });
}

}  // namespace tollgate::ledger
