// RowLedger: a Ledger built on the stored rows (rows.h), the base of the
// backends. Each asynchronous write becomes one WriteOp (write_ops.h)
// handed to the backend's submit(), which applies it through the
// accounting rules; each read is the read rule (reads.h) over one
// consistent view of the rows, which the backend's read_rows() opens. The
// blocking wrappers and the admission queue, health and policy are the
// backend's, as ledger.h describes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ledger/ledger.h"
#include "daemon/ledger/rows.h"
#include "daemon/ledger/write_ops.h"

namespace tollgate::ledger {

class RowLedger : public Ledger {
 public:
  // prune_rows_per_step: the bound of one prune_async step.
  explicit RowLedger(size_t prune_rows_per_step) : prune_rows_per_step_(prune_rows_per_step) {}

  void reserve_async(ReserveRequest request, Callback<ReserveOutcome> done) override;
  void reevaluate_levels_async(int64_t now_ms, Callback<std::vector<Alert>> done) override;
  void commit_async(CommitRequest request, Callback<CommitOutcome> done) override;
  void commit_async(CommitRequest request, StoredReply stored, Callback<CommitOutcome> done) override;
  void release_async(uint64_t reservation_id, Callback<ReleaseOutcome> done) override;
  void reset_async(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                   Callback<ResetOutcome> done) override;
  void count_request_async(std::string provider, int64_t now_ms, Callback<uint64_t> done) override;
  void idempotency_put_async(std::string agent, std::string key, std::string reply,
                             int64_t expiry_ms, Callback<bool> done) override;
  void idempotency_forget_async(std::string agent, std::string key, Callback<bool> done) override;
  void prune_async(int64_t now_ms, Callback<PruneOutcome> done) override;
  void probe_async(Callback<bool> done) override;
  void set_limit_async(SetLimitRequest request, Callback<SetLimitOutcome> done) override;
  void check_forecasts_async(int64_t now_ms, Callback<std::vector<Alert>> done) override;
  void outbox_done_async(std::string destination, uint64_t id, Callback<bool> done) override;
  void outbox_drop_async(std::string destination, Callback<uint64_t> done) override;

  Result<std::string> current_period(int64_t now_ms) const override;
  Result<ProviderUsage> usage(const std::string& agent, const std::string& period) const override;
  Result<BudgetSnapshot> snapshot(const std::string& agent, int64_t now_ms) const override;
  Result<std::vector<std::string>> agents(const std::string& period) const override;
  Result<std::vector<std::string>> all_agents() const override;
  Result<std::vector<HistoryMonth>> history(const std::string& agent, size_t months,
                                            int64_t now_ms) const override;
  Result<std::vector<Alert>> alerts(size_t limit, std::optional<int64_t> since_ms,
                                    const std::optional<std::string>& agent) const override;
  Result<std::vector<ResetRecord>> resets(const std::optional<std::string>& agent) const override;
  Result<std::vector<LedgerRecord>> ledger_events(size_t limit,
                                                  std::optional<int64_t> since_ms) const override;
  Result<EmergencyStatus> emergency_status(int64_t now_ms) const override;
  Result<std::optional<std::string>> idempotency_get(const std::string& agent,
                                                     const std::string& key,
                                                     int64_t now_ms) const override;
  Result<std::optional<IdempotencyRecord>> idempotency_record(const std::string& agent,
                                                              const std::string& key,
                                                              int64_t now_ms) const override;
  Result<uint64_t> requests_today(const std::string& provider, int64_t now_ms) const override;
  Result<uint32_t> requests_this_minute(const std::string& provider,
                                        int64_t now_ms) const override;
  Result<std::vector<LimitEntry>> limits() const override;
  Result<Forecast> forecast(const std::optional<std::string>& scope, int64_t now_ms) const override;
  Result<std::vector<DailyUsage>> daily(const std::string& scope, size_t days,
                                        int64_t now_ms) const override;
  Result<std::vector<OutboxEntry>> outbox(const std::string& destination, uint64_t after_id,
                                          size_t limit) const override;
  Result<uint64_t> outbox_depth() const override;
  Result<std::vector<std::string>> outbox_destinations() const override;

  using RowReader = std::function<void(const LedgerRows& rows, const BudgetPolicy& policy)>;
  // Runs `reader` over one consistent view of the stored rows and the
  // current policy, on the caller's thread; an Error when the view cannot
  // be read (the reader's results are then not used).
  virtual Result<void> read_rows(const RowReader& reader) const = 0;

 protected:
  // Applies the operation in order with the others and answers it (its
  // callback) once it is durable, failed, deferred or refused.
  virtual void submit(detail::WriteOp op) = 0;

 private:
  const size_t prune_rows_per_step_;
};

}  // namespace tollgate::ledger
