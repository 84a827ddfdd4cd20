// Reply bodies of PROTOCOL.md section 3 for `ok: true`, encoded by
// encode_reply (codec.h), which adds v, id and ok.
//
// Every field is always written; a std::optional that is empty is written
// as nil (e.g. `limit` when no global limit is set, `recommended` when no
// provider is available). Maps keyed by provider name are std::map so the
// output is deterministic. Plain data; safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/content.h"
#include "protocol/events.h"

namespace tollgate::protocol {

struct PingReply {
  std::string version{};
  uint64_t uptime_ms = 0;
  int64_t pid = 0;
  bool operator==(const PingReply&) const = default;
};

struct TokenUsage {
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t total_tokens = 0;
  // Section 8: the provider's prompt-cache counts, when it reports them
  // (already included in input_tokens). Written only when set.
  std::optional<uint64_t> cache_creation_input_tokens{};
  std::optional<uint64_t> cache_read_input_tokens{};
  bool operator==(const TokenUsage&) const = default;
};

struct CallAttempt {
  std::string provider{};
  std::string outcome{};              // ok | skipped | error
  std::optional<std::string> code{};  // nil when ok; a skip reason or error code otherwise
  double latency_ms = 0;
  bool operator==(const CallAttempt&) const = default;
};

struct CallReply {
  std::string text{};
  std::string provider{};
  std::string model{};
  std::string reason{};  // primary | preferred | fallback_*
  TokenUsage usage{};
  double cost_usd = 0;
  std::vector<CallAttempt> attempts{};
  double latency_ms = 0;
  bool replayed = false;
  // Section 8: the reply's text and tool_use blocks in order, and why the
  // model stopped. `text` is the text blocks joined.
  std::vector<ContentBlock> content{};
  std::optional<StopReason> stop_reason{};
  // Section 10: answered from the response cache (charged nothing).
  bool cached = false;
  bool operator==(const CallReply&) const = default;
};

// One agent's use of one provider (the `usage` op).
struct AgentProviderUsage {
  uint64_t used = 0;
  uint64_t reserved = 0;
  uint64_t limit = 0;
  uint64_t remaining = 0;  // limit - used - reserved, never below 0
  double percentage = 0;
  uint64_t requests = 0;
  double cost_usd = 0;
  // Section 10: the dollar budget, when one is set (written only then).
  std::optional<double> limit_usd{};
  bool operator==(const AgentProviderUsage&) const = default;
};

struct UsageReply {
  std::string ai_name{};
  std::string period{};
  std::string level{};  // normal | warning | critical | emergency | exhausted
  std::optional<std::string> recommended{};
  std::map<std::string, AgentProviderUsage> providers{};
  bool operator==(const UsageReply&) const = default;
};

// One provider across all agents (`summary`, `emergency_status`).
struct GlobalProviderUsage {
  uint64_t used = 0;
  uint64_t reserved = 0;
  std::optional<uint64_t> limit{};  // nil: no global limit set
  double percentage = 0;
  uint64_t requests = 0;
  double cost_usd = 0;
  bool operator==(const GlobalProviderUsage&) const = default;
};

struct AgentProviderBrief {
  uint64_t used = 0;
  uint64_t limit = 0;
  double percentage = 0;
  bool operator==(const AgentProviderBrief&) const = default;
};

struct AgentSummary {
  std::string ai_name{};
  std::string level{};
  std::map<std::string, AgentProviderBrief> providers{};
  bool operator==(const AgentSummary&) const = default;
};

struct UsageTotals {
  uint64_t used = 0;
  uint64_t requests = 0;
  double cost_usd = 0;
  bool operator==(const UsageTotals&) const = default;
};

struct SummaryReply {
  std::string period{};
  std::map<std::string, GlobalProviderUsage> providers{};
  std::vector<AgentSummary> agents{};
  UsageTotals totals{};
  bool operator==(const SummaryReply&) const = default;
};

struct RateStatus {
  uint64_t minute_used = 0;
  uint64_t minute_limit = 0;
  uint64_t day_used = 0;
  uint64_t day_limit = 0;
  bool operator==(const RateStatus&) const = default;
};

struct ProviderState {
  bool configured = false;
  std::string circuit{};  // closed | open | half_open
  RateStatus rate{};
  uint64_t used = 0;
  std::optional<uint64_t> limit{};  // global limit; nil when none
  double percentage = 0;
  uint64_t waiting = 0;  // calls queued for budget room (admission, rule 6)
  bool operator==(const ProviderState&) const = default;
};

struct AgentProviderAvailability {
  bool available = false;
  double percentage = 0;
  std::optional<std::string> why{};  // nil when available, else the skip reason
  // Section 10, TOLLGATE_SELECTION=cheapest only (written only then): what a
  // call with a short prompt would cost here at most.
  std::optional<double> expected_cost_usd{};
  bool operator==(const AgentProviderAvailability&) const = default;
};

struct AgentStatus {
  std::string ai_name{};
  std::optional<std::string> recommended{};
  std::string reason{};
  std::map<std::string, AgentProviderAvailability> providers{};
  bool operator==(const AgentStatus&) const = default;
};

struct ProviderStatusReply {
  std::map<std::string, ProviderState> providers{};
  std::vector<AgentStatus> agents{};
  std::optional<std::string> selection{};  // section 10: "cheapest" (written only then)
  bool operator==(const ProviderStatusReply&) const = default;
};

struct RecommendReply {
  std::optional<std::string> provider{};  // nil when none
  std::string reason{};
  bool available = false;
  // Section 10, TOLLGATE_SELECTION=cheapest only (written only then): the
  // order was by expected cost, and the recommended provider's.
  std::optional<std::string> selection{};
  std::optional<double> expected_cost_usd{};
  bool operator==(const RecommendReply&) const = default;
};

struct AgentAtRisk {
  std::string ai_name{};
  std::string provider{};
  double percentage = 0;
  std::string level{};
  bool operator==(const AgentAtRisk&) const = default;
};

struct EmergencyStatusReply {
  std::string level{};  // normal | warning | critical | emergency | shutdown
  bool shutdown = false;
  std::vector<std::string> reasons{};
  std::map<std::string, GlobalProviderUsage> providers{};
  std::vector<AgentAtRisk> agents_at_risk{};
  bool operator==(const EmergencyStatusReply&) const = default;
};

struct AlertsReply {
  std::vector<AlertEvent> alerts{};  // newest first; bodies as the alert event (without seq)
  bool operator==(const AlertsReply&) const = default;
};

struct HistoryProviderMonth {
  uint64_t used = 0;
  uint64_t requests = 0;
  uint64_t cleared = 0;  // tokens removed from `used` by resets that month
  bool operator==(const HistoryProviderMonth&) const = default;
};

struct HistoryMonth {
  std::string period{};
  std::map<std::string, HistoryProviderMonth> providers{};
  uint64_t total_tokens = 0;
  double cost_usd = 0;
  bool operator==(const HistoryMonth&) const = default;
};

struct HistoryReply {
  std::string ai_name{};
  std::vector<HistoryMonth> months{};  // newest (current period) first
  bool operator==(const HistoryReply&) const = default;
};

struct ResetReply {
  std::string ai_name{};
  std::string period{};
  std::map<std::string, uint64_t> cleared{};  // provider -> tokens cleared
  bool operator==(const ResetReply&) const = default;
};

struct LedgerEventsReply {
  std::vector<LedgerEvent> events{};  // newest first; bodies as the `ledger` event (without seq)
  bool operator==(const LedgerEventsReply&) const = default;
};

// Section 9: what one part of a streamed reply carries (`chunk`).
struct StreamChunk {
  enum class Type { kTextDelta, kToolUseStart, kInputJsonDelta };
  Type type = Type::kTextDelta;
  uint64_t index = 0;  // the content block, as in the final reply's `content`
  std::string text{};  // kTextDelta: `text`; kInputJsonDelta: `partial_json`
  std::string id{};    // kToolUseStart
  std::string name{};  // kToolUseStart
  bool operator==(const StreamChunk&) const = default;
};

// "text_delta", "tool_use_start", "input_json_delta".
std::string_view chunk_type_name(StreamChunk::Type type);

// Section 9: one part of a streamed `call` reply (every message but the
// last; the last is the ordinary CallReply or an error).
struct CallPartReply {
  uint64_t part = 0;  // 1, 2, ... in the order sent
  StreamChunk chunk{};
  bool operator==(const CallPartReply&) const = default;
};

// Section 9: the reply to `cancel`.
struct CancelReply {
  bool found = false;  // a call with that id was in flight on this connection
  bool operator==(const CancelReply&) const = default;
};

// Section 10: one operator override (the `limits` op).
struct LimitEntry {
  std::string ai_name{};  // "*": the global budget
  std::string provider{};
  std::optional<uint64_t> limit{};    // nil: the configured token limit applies
  std::optional<double> limit_usd{};  // nil: the configured dollar limit applies
  int64_t set_at_ms = 0;
  std::string set_by{};   // who: "curve:<client key>", "http:<token digest>" or "local"
  bool operator==(const LimitEntry&) const = default;
};

struct LimitsReply {
  std::vector<LimitEntry> limits{};  // by ai_name, then provider
  bool operator==(const LimitsReply&) const = default;
};

// Section 10: one budget's projection to the end of its period.
struct ForecastBudget {
  uint64_t used = 0;
  std::optional<uint64_t> limit{};  // nil: a global budget without a limit
  double daily_rate = 0;            // tokens per day over the forecast window
  uint64_t projected_period_end_usage = 0;
  std::optional<int64_t> projected_exhausted_at_ms{};  // nil: not before the period ends
  bool operator==(const ForecastBudget&) const = default;
};

struct ForecastReply {
  std::string period{};
  int64_t period_end_ms = 0;  // when the period ends (UTC)
  uint32_t window_days = 0;   // the burn rate's window (TOLLGATE_FORECAST_WINDOW_DAYS)
  // ai_name ("*": the global budgets) -> provider -> projection.
  std::map<std::string, std::map<std::string, ForecastBudget>> agents{};
  bool operator==(const ForecastReply&) const = default;
};

// Section 10: one provider's use on one UTC day.
struct DailyProvider {
  uint64_t used = 0;
  uint64_t requests = 0;
  double cost_usd = 0;
  bool operator==(const DailyProvider&) const = default;
};

struct DailyEntry {
  std::string date{};  // "YYYY-MM-DD" (UTC)
  std::map<std::string, DailyProvider> providers{};
  bool operator==(const DailyEntry&) const = default;
};

struct DailyReply {
  std::optional<std::string> ai_name{};  // nil: every agent together
  std::vector<DailyEntry> days{};        // exactly `days` entries, newest (today) first
  bool operator==(const DailyReply&) const = default;
};

// A status reply answered from what the daemon last read, because the
// ledger cannot be read now (a PostgreSQL ledger whose database is down,
// PROTOCOL.md section 12): sent as `stale: {as_of_ms, reason}` beside the
// reply's own fields.
struct Staleness {
  int64_t as_of_ms = 0;  // when the reply was read from the ledger
  std::string reason;    // why the ledger cannot be read now
  bool operator==(const Staleness&) const = default;
};

using ReplyBody =
    std::variant<PingReply, CallReply, UsageReply, SummaryReply, ProviderStatusReply,
                 RecommendReply, EmergencyStatusReply, AlertsReply, HistoryReply, ResetReply,
                 LedgerEventsReply, CallPartReply, CancelReply, LimitsReply, ForecastReply,
                 DailyReply>;

}  // namespace tollgate::protocol
