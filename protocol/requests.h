// Request bodies of PROTOCOL.md section 3, as decoded and validated by
// decode_request (codec.h) and built by clients with encode_request.
//
// Optional fields are std::optional and stay empty when the client left
// them out (or sent nil): the decoder applies no defaults, the daemon fills
// them from its configuration. Plain data; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/content.h"
#include "protocol/request_id.h"

namespace tollgate::protocol {

struct PingRequest {
  bool operator==(const PingRequest&) const = default;
};

// A turn of the conversation. `content` is either a string (`blocks`
// empty) or an array of blocks (section 8; then `content` is empty).
struct ChatMessage {
  std::string role{};     // "user" or "assistant"
  std::string content{};
  std::vector<ContentBlock> blocks{};
  bool operator==(const ChatMessage&) const = default;

  bool has_blocks() const { return !blocks.empty(); }
};

struct CallRequest {
  std::string ai_name{};                       // 1-64 chars of [A-Za-z0-9_.-]
  std::optional<std::string> prompt{};         // exactly one of prompt ...
  std::vector<ChatMessage> messages{};         // ... or messages (empty = absent)
  std::optional<std::string> system{};
  std::vector<ContentBlock> system_blocks{};   // system as text blocks (then `system` is empty)
  std::optional<uint64_t> max_tokens{};        // 1 .. DecodeLimits::max_tokens_per_request
  std::optional<double> temperature{};         // 0 .. 2
  std::optional<std::string> preferred_provider{};
  std::optional<std::string> model{};
  std::optional<std::string> idempotency_key{};  // 1-128 bytes
  std::optional<int64_t> timeout_ms{};         // 1 .. kMaxTimeoutMs
  // Section 8 (empty / absent: a text-only call, exactly as before).
  std::vector<ToolSpec> tools{};
  std::optional<ToolChoice> tool_choice{};
  std::vector<std::string> stop_sequences{};   // at most kMaxStopSequences
  std::optional<double> top_p{};               // 0 .. 1
  // Section 9: the reply comes in parts on the same envelope, then the
  // ordinary reply. Written only when true; not part of the fingerprint
  // (a repeat of a streamed call gets the stored final reply).
  bool stream = false;
  // Section 10: answer from the response cache when an identical request
  // (content, parameters, model chain) was answered within the cache's TTL.
  // Written only when true; not part of the idempotency fingerprint.
  bool cache = false;
  bool operator==(const CallRequest&) const = default;

  // Does the call use any part of section 8 (blocks, tools, stop
  // sequences, top_p)? A text-only call encodes and hashes as before.
  bool full_fidelity() const;
};

struct UsageRequest {
  std::string ai_name{};
  bool operator==(const UsageRequest&) const = default;
};

struct SummaryRequest {
  bool operator==(const SummaryRequest&) const = default;
};

struct ProviderStatusRequest {
  std::optional<std::string> ai_name{};  // all agents when absent
  bool operator==(const ProviderStatusRequest&) const = default;
};

struct RecommendRequest {
  std::string ai_name{};
  bool operator==(const RecommendRequest&) const = default;
};

struct EmergencyStatusRequest {
  bool operator==(const EmergencyStatusRequest&) const = default;
};

struct AlertsRequest {
  std::optional<uint32_t> limit{};     // 1 .. kMaxAlertsLimit (daemon default 100)
  std::optional<int64_t> since_ms{};   // >= 0
  std::optional<std::string> ai_name{};  // an agent name, or "*" for global alerts
  bool operator==(const AlertsRequest&) const = default;
};

struct HistoryRequest {
  std::string ai_name{};
  std::optional<uint32_t> months{};  // 1 .. 120 (daemon default 6)
  bool operator==(const HistoryRequest&) const = default;
};

struct ResetRequest {
  std::string ai_name{};
  std::optional<std::string> provider{};  // all providers when absent
  // Reset an agent with no usage in the ledger and no configuration too
  // (without it that is `unknown_agent`: most likely a typo).
  bool force = false;
  bool operator==(const ResetRequest&) const = default;
};

struct LedgerEventsRequest {
  std::optional<uint32_t> limit{};    // 1 .. kMaxLedgerEventsLimit (daemon default 100)
  std::optional<int64_t> since_ms{};  // >= 0
  bool operator==(const LedgerEventsRequest&) const = default;
};

// Section 9: aborts a call in flight on the same connection.
struct CancelRequest {
  RequestId target{};  // the `id` of that call (string or int)
  bool operator==(const CancelRequest&) const = default;
};

// Section 10: replaces the operator's override of one budget (an agent's,
// or the global one with ai_name "*") for one provider. Both limits nil
// (or left out): the override is removed and the configured limits apply.
struct SetLimitRequest {
  std::string ai_name{};                // an agent name, or "*" for the global budget
  std::string provider{};
  std::optional<uint64_t> limit{};      // tokens; nil: the configured limit
  std::optional<double> limit_usd{};    // US dollars; nil: the configured one (if any)
  bool operator==(const SetLimitRequest&) const = default;
};

struct LimitsRequest {
  bool operator==(const LimitsRequest&) const = default;
};

struct ForecastRequest {
  std::optional<std::string> ai_name{};  // every agent (and "*") when absent
  bool operator==(const ForecastRequest&) const = default;
};

struct DailyRequest {
  std::optional<std::string> ai_name{};  // every agent together when absent
  std::optional<uint32_t> days{};        // 1 .. kMaxDailyDays (daemon default 31)
  bool operator==(const DailyRequest&) const = default;
};

using RequestBody =
    std::variant<PingRequest, CallRequest, UsageRequest, SummaryRequest, ProviderStatusRequest,
                 RecommendRequest, EmergencyStatusRequest, AlertsRequest, HistoryRequest,
                 ResetRequest, LedgerEventsRequest, CancelRequest, SetLimitRequest, LimitsRequest,
                 ForecastRequest, DailyRequest>;

// Range limits the decoder enforces that are not configuration.
inline constexpr uint32_t kMaxAlertsLimit = 10000;
inline constexpr uint32_t kMaxLedgerEventsLimit = 10000;
inline constexpr uint32_t kMaxHistoryMonths = 120;
inline constexpr uint32_t kMaxDailyDays = 400;
// set_limit's bounds: 2^53 tokens (exact in every JSON client), and a
// billion dollars.
inline constexpr uint64_t kMaxLimitTokens = uint64_t{1} << 53;
inline constexpr double kMaxLimitUsd = 1e9;
inline constexpr int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxIdempotencyKeyBytes = 128;

// The wire op name of a body: "ping", "call", "provider_status", ...
std::string_view op_name(const RequestBody& body);

}  // namespace tollgate::protocol
