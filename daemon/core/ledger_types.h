// Plain data exchanged with the Ledger (ledger.h): the budget policy it
// enforces, the outcomes of its write operations, and the results of its
// reads. Plain structs with public fields; safe to copy between threads.
// The lead maps these to protocol replies and events.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/core/budget.h"
#include "daemon/core/policy/rate_window.h"

namespace tollgate::ledger {

// The scope name of a provider's global budget (all agents together), also
// the `ai_name` of global alerts.
inline constexpr const char* kGlobalScope = "*";

struct Alert;

// Limits and thresholds, evaluated by the ledger at the moment of each
// operation. The functions are called on the ledger's writer thread and on
// reader threads: they must be thread-safe and cheap (capture a config
// snapshot by value). Replace the whole policy with Ledger::set_policy.
struct BudgetPolicy {
  Thresholds thresholds;
  // Configured providers in chain order. Reads list them even without
  // usage; emergency shutdown looks at every one of them.
  std::vector<std::string> providers;
  // Monthly tokens an agent may use of a provider (0 = no budget at all).
  std::function<uint64_t(const std::string& agent, const std::string& provider)> agent_limit;
  // The provider's global monthly limit; nullopt = none (usage is still
  // tracked under scope "*").
  std::function<std::optional<uint64_t>(const std::string& provider)> global_limit;
  // Section 10: the same budgets in US dollars; unset or nullopt: none.
  std::function<std::optional<double>(const std::string& agent, const std::string& provider)>
      agent_limit_usd;
  std::function<std::optional<double>(const std::string& provider)> global_limit_usd;
  bool shutdown_on_emergency = false;  // SHUTDOWN_ON_EMERGENCY
  // The burn rate's window of forecasts (TOLLGATE_FORECAST_WINDOW_DAYS).
  uint32_t forecast_window_days = 7;
  // The notification destinations an alert is delivered to (their names);
  // each gets an outbox row in the alert's own transaction. Unset or
  // empty: no outbox rows.
  std::function<std::vector<std::string>(const Alert& alert)> notify_destinations;
  // A provider's request-rate limits (*_RPM, *_RPD), held by the reserve
  // of every attempt: the ledger keeps each provider's last minute of
  // attempts and its day counter, so every daemon sharing the ledger is
  // held to the one limit (PROTOCOL.md section 12). Unset: none.
  std::function<policy::RateLimits(const std::string& provider)> rate_limits;
};

// The first operation in a new month starts it; the server publishes one
// `ledger` event {kind: rollover, from, to}.
struct Rollover {
  std::string from;  // "YYYY-MM"
  std::string to;
};

// One alert, exactly the `alert.<level>` event body of PROTOCOL.md section
// 4 (the server adds the event `seq`). `log_seq` is the ledger's own order.
struct Alert {
  AlertLevel level = AlertLevel::kWarning;
  std::string ai_name;   // "*" for a global budget
  std::string provider;
  double threshold = 0;  // fraction 0..1
  double percentage = 0; // used / limit * 100 when it fired
  uint64_t used = 0;
  uint64_t limit = 0;
  std::string period;
  int64_t at_ms = 0;
  std::string message;
  uint64_t log_seq = 0;
};

enum class ReserveStatus {
  kReserved,
  kAgentDoesNotFit,   // the agent's budget for the provider has no room
  kGlobalDoesNotFit,  // the agent's budget has room, the global one not
  kRateLimited,       // the budgets have room; the provider's rate limit is full
};

// Why a reservation was refused (for the call's own skip only: a refusal
// never changes what the next call sees).
enum class RefusedBy {
  kLimit,      // used + amount > limit: this call can never fit
  kThreshold,  // the agent's usage reached the soft (fallback) threshold
  kInFlight,   // other calls' reservations held the room until the wait ended
};

struct ReserveOutcome {
  ReserveStatus status = ReserveStatus::kReserved;
  uint64_t reservation_id = 0;  // valid when kReserved
  std::string period;           // where it was (or would have been) booked
  uint64_t requests_today = 0;  // the provider's day counter after this op
  std::optional<Rollover> rollover;
  // When refused: why, the amount asked for, and what is left of the
  // refusing budget (limit - used) and held by calls in flight (reserved).
  RefusedBy refused_by = RefusedBy::kLimit;
  uint64_t needed = 0;
  uint64_t left = 0;
  uint64_t in_flight = 0;
  uint64_t limit = 0;
  bool waited = false;  // it queued for in-flight reservations first
  // Section 10: the refusing budget was a dollar budget; the same numbers
  // in US dollars (the call's highest possible cost, what is left, held).
  bool usd = false;
  double needed_usd = 0;
  double left_usd = 0;
  double in_flight_usd = 0;
  double limit_usd = 0;
  // kRateLimited: when a slot frees (the minute's oldest attempt ages out,
  // or the next UTC day for a full day), in ms from the request's now_ms.
  int64_t retry_after_ms = 0;
  bool reserved() const { return status == ReserveStatus::kReserved; }
};

// A settlement (commit or release) that meets a degraded ledger is not
// refused: the ledger keeps it and applies it, in order with the others it
// kept, once a probe write succeeds (LedgerOptions::on_late_settlement then
// reports what it did). The caller gets deferred = true at once, with the
// reason, and nothing else filled in.
struct CommitOutcome {
  std::string agent;
  std::string provider;
  std::string period;         // the reservation's period (where it is charged)
  uint64_t charged = 0;       // input + output
  uint64_t reserved = 0;      // what the reservation held
  std::vector<Alert> alerts;  // thresholds crossed by this charge
  std::optional<Rollover> rollover;
  bool deferred = false;        // kept until the ledger recovers (above)
  std::string deferred_reason;  // why the ledger is degraded
};

struct ReleaseOutcome {
  uint64_t released = 0;  // tokens the reservation held
  bool deferred = false;  // kept until the ledger recovers (see CommitOutcome)
  std::string deferred_reason;
};

// A settlement the ledger kept while degraded, as applied after it
// recovered: exactly one of commit and release is set, or error says why
// it could not be applied (an unknown reservation: logged, nothing to do).
struct LateSettlement {
  uint64_t reservation_id = 0;
  std::optional<CommitOutcome> commit;
  std::optional<ReleaseOutcome> release;
  std::string error;
};

struct ResetOutcome {
  std::string agent;
  std::string period;
  std::map<std::string, uint64_t> cleared;  // provider -> tokens cleared
  std::optional<Rollover> rollover;
};

// Tokens charged at open for reservations a crash left behind.
struct RecoveredCharge {
  std::string agent;
  std::string provider;
  std::string period;
  uint64_t tokens = 0;
  uint64_t reservations = 0;
};

// What opening the ledger did: one `ledger` {kind: recovered} event when
// charges is not empty, one {kind: rollover} when rollover is set, and the
// alerts the recovered charges fired. at_ms: when (the open's now_ms, also
// the time of its records in the ledger log).
struct OpenReport {
  std::vector<RecoveredCharge> charges;
  uint64_t recovered_tokens = 0;
  std::vector<Alert> alerts;
  std::optional<Rollover> rollover;
  int64_t at_ms = 0;
};

// ---- The ledger log: every `ledger` event (PROTOCOL.md section 4) the
// ledger produces, kept durably in the write transaction of the change
// that produced it and served newest first by Ledger::ledger_events (the
// `ledger_events` op). Each change below is one event kind; the server
// maps a LedgerRecord to the event body with the same function it uses to
// publish that kind, so the two cannot differ.

// kind `reset`: one reset operation and what it cleared per provider.
struct ResetChange {
  std::string agent;
  std::string period;
  std::map<std::string, uint64_t> cleared;  // provider -> tokens cleared
};

// kind `recovered`: the reservations a crash left, charged in full at open.
struct RecoveryChange {
  std::vector<RecoveredCharge> charges;
  uint64_t tokens = 0;
};

// An operator's override of one budget's limits (PROTOCOL.md section 10,
// `set_limit`): it wins over the configured limits until it is cleared.
// nullopt limits: the configured one applies.
struct LimitOverride {
  std::optional<uint64_t> tokens;
  std::optional<double> usd;
  int64_t set_at_ms = 0;
  std::string set_by;  // who set it ("curve:<key>", "http:<token digest>", "local")
};

// kind `limit`: set_limit replaced (or cleared) one budget's override.
struct LimitChange {
  std::string scope;  // an agent, or kGlobalScope
  std::string provider;
  std::optional<uint64_t> tokens;  // the new override (nullopt: configured)
  std::optional<double> usd;
  std::optional<uint64_t> previous_tokens;  // the override it replaced
  std::optional<double> previous_usd;
  std::string set_by;
};

// kind `rollover` is Rollover (above). A new kind is a new alternative
// here, its codec in ledger_tables.cpp and its mapping in the server; the
// change that produces it logs it with one call.
using LedgerChange = std::variant<ResetChange, Rollover, RecoveryChange, LimitChange>;

struct LedgerRecord {
  LedgerChange change;
  int64_t at_ms = 0;     // the now_ms of the operation that made the change
  uint64_t log_seq = 0;  // the ledger's own order (shared with alerts and resets)
};

struct SetLimitRequest {
  std::string scope;  // an agent, or kGlobalScope
  std::string provider;
  std::optional<uint64_t> tokens;  // both nullopt: the override is removed
  std::optional<double> usd;
  std::string set_by;
  int64_t now_ms = 0;
};

struct SetLimitOutcome {
  LimitChange change;
  int64_t change_at_ms = 0;  // the request's now_ms
  std::string period;
  std::vector<Alert> alerts;  // levels the new limit reaches that had not fired
  std::optional<Rollover> rollover;
};

// One stored override (the `limits` op).
struct LimitEntry {
  std::string scope;
  std::string provider;
  LimitOverride limit;
};

// One budget's use on one UTC day (the `daily` op, forecasts).
struct DayUsage {
  uint64_t used = 0;
  uint64_t requests = 0;
  double cost_usd = 0;
};
struct DailyUsage {
  int64_t day = 0;  // days since the epoch (UTC)
  std::map<std::string, DayUsage> providers;
};

// One budget's projection to the end of its period (the `forecast` op).
struct BudgetForecast {
  uint64_t used = 0;
  std::optional<uint64_t> limit;  // nullopt: a global budget without a limit
  double daily_rate = 0;          // tokens per day over the window
  uint64_t projected_end_usage = 0;
  std::optional<int64_t> exhausted_at_ms;  // nullopt: not before the period ends
};
struct Forecast {
  std::string period;
  int64_t period_end_ms = 0;
  uint32_t window_days = 0;
  // scope (an agent, or kGlobalScope) -> provider -> projection
  std::map<std::string, std::map<std::string, BudgetForecast>> budgets;
};

// One alert waiting in the notification outbox for one destination.
struct OutboxEntry {
  std::string destination;
  Alert alert;  // its log_seq is the entry's id
};

// One budget (an agent's or the global one) for one provider and period.
struct BudgetUsage {
  uint64_t used = 0;
  uint64_t reserved = 0;
  std::optional<uint64_t> limit;  // nullopt: global budget without a limit
  uint64_t remaining = 0;         // limit - used - reserved, floored at 0
  double percentage = 0;          // used / limit * 100; 0 without a limit
  uint64_t requests = 0;
  double cost_usd = 0;
  uint64_t cleared = 0;    // tokens removed by resets this period
  // Empty: limit - used under exhausted_fraction of the limit (budget.h),
  // in tokens or, with a dollar limit, in dollars.
  bool exhausted = false;
  AgentLevel level = AgentLevel::kNormal;
  // Section 10: the dollar limit in force (nullopt: none) and the cost held
  // by open reservations.
  std::optional<double> limit_usd;
  double reserved_usd = 0;
};
using ProviderUsage = std::map<std::string, BudgetUsage>;  // provider -> usage

// An agent's and the global budget of each provider, read in one snapshot:
// what provider selection needs.
struct ProviderBudgets {
  BudgetUsage agent;
  BudgetUsage global;
};
struct BudgetSnapshot {
  std::string period;
  std::map<std::string, ProviderBudgets> providers;
};

struct HistoryProvider {
  uint64_t used = 0;
  uint64_t requests = 0;
  uint64_t cleared = 0;  // reset during that month (history keeps the fact)
  double cost_usd = 0;
};
struct HistoryMonth {
  std::string period;
  std::map<std::string, HistoryProvider> providers;
  uint64_t total_tokens = 0;
  double cost_usd = 0;
};

// The audit row every reset leaves.
struct ResetRecord {
  int64_t at_ms = 0;
  std::string agent;
  std::string provider;
  std::string period;
  uint64_t cleared = 0;
};

enum class EmergencyLevel { kNormal, kWarning, kCritical, kEmergency, kShutdown };
// "normal", "warning", "critical", "emergency", "shutdown".
constexpr const char* emergency_level_name(EmergencyLevel level) {
  switch (level) {
    case EmergencyLevel::kNormal: return "normal";
    case EmergencyLevel::kWarning: return "warning";
    case EmergencyLevel::kCritical: return "critical";
    case EmergencyLevel::kEmergency: return "emergency";
    case EmergencyLevel::kShutdown: return "shutdown";
  }
  return "normal";
}

struct AgentAtRisk {
  std::string ai_name;
  std::string provider;
  double percentage = 0;
  AgentLevel level = AgentLevel::kWarning;
};

struct EmergencyStatus {
  std::string period;
  EmergencyLevel level = EmergencyLevel::kNormal;
  bool shutdown = false;
  std::vector<std::string> reasons;
  ProviderUsage providers;  // global usage, as in `summary`
  std::vector<AgentAtRisk> agents_at_risk;
};

// ---- Idempotency (PROTOCOL.md section 3, `call`; DESIGN.md invariant 4).
// The idempotency table holds at most one record per (agent, key): a
// pending marker, written in the transaction of each reservation the call
// with that key makes, and then the call's stored reply, written in the
// transaction of the commit that charges it. A call that failed leaves
// none (Ledger::idempotency_forget_async). A pending marker found by a
// repeat that is not waiting for a running call was left by a crash: its
// reservation was charged in full by recovery and the call's outcome is
// unknown, so the repeat must not reach a provider again.

// The call holding an idempotency key, as the ledger records it.
struct IdempotentCall {
  std::string agent;
  std::string key;
  std::string fingerprint;  // of the request (raw bytes; call_fingerprint.h)
  int64_t received_ms = 0;  // when the call was received
  int64_t expiry_ms = 0;    // the record is forgotten after this
};

enum class IdempotencyState {
  kPending,        // the call is running, or a crash cut it short
  kDone,           // succeeded; `reply` answers repeats
  kReplyTooLarge,  // succeeded; its reply (reply_bytes) was over the cap and not kept
};

struct IdempotencyRecord {
  IdempotencyState state = IdempotencyState::kDone;
  std::string fingerprint;      // empty: written by an older tollgated (not compared)
  int64_t received_ms = 0;
  int64_t expiry_ms = 0;
  uint64_t reservation_id = 0;  // kPending: the call's latest reservation
  std::string reply;            // kDone: the reply body (msgpack, `id` nil)
  uint64_t reply_bytes = 0;     // kReplyTooLarge: the size that was not kept
};

// What the commit of an idempotent call stores with its charge.
struct StoredReply {
  IdempotentCall call;
  // The encoded reply; nullopt when it was over the cap (kReplyTooLarge).
  std::optional<std::string> reply;
  uint64_t reply_bytes = 0;
};

// One bounded step of the expiry sweep of the idempotency table.
struct PruneOutcome {
  uint64_t deleted = 0;  // expired records deleted
  uint64_t scanned = 0;  // records looked at (at most the step's bound)
  bool swept = false;    // the step reached the end of the table
};

struct LedgerHealth {
  bool degraded = false;
  std::string reason;  // why writes are refused; empty when healthy
  // Settlements kept while degraded and not applied yet.
  uint64_t deferred_settlements = 0;
};

}  // namespace tollgate::ledger
