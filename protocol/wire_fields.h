// Internal to protocol/: the wire keys of every message struct, in the
// order they are written. `for_each_field(const T&, F&& f)` calls
// f("key", value) per field; Packer (packer.h) uses it to write maps.
// Keys are PROTOCOL.md's names exactly; change them only with the contract.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <variant>

#include "protocol/content.h"
#include "protocol/events.h"
#include "protocol/packer.h"
#include "protocol/replies.h"
#include "protocol/requests.h"

namespace tollgate::protocol {

namespace detail {

// Wire names of ToolChoice::Type, in enum order.
inline constexpr std::array<std::string_view, 4> kToolChoiceNames = {"auto", "any", "none", "tool"};

// A reply's stop_reason; nil when unknown.
inline std::optional<std::string_view> stop_reason_text(const std::optional<StopReason>& r) {
  if (!r) return std::nullopt;
  return stop_reason_name(*r);
}

}  // namespace detail

// ---- section 8 content (content.h) ----
// Optional parts (cache_control, is_error, a tool's description, a
// tool_result's content) are written only when set, so that a decoded
// block encodes back to the same bytes.

template <class F>
void for_each_field(const ImageSource& s, F&& f) {
  if (s.kind == ImageSource::Kind::kUrl) {
    f("type", std::string_view("url"));
    f("url", s.url);
  } else {
    f("type", std::string_view("base64"));
    f("media_type", s.media_type);
    f("data", s.data);
  }
}

template <class F>
void for_each_field(const ContentBlock& b, F&& f) {
  f("type", block_type_name(b.type));
  switch (b.type) {
    case ContentBlock::Type::kText: f("text", b.text); break;
    case ContentBlock::Type::kImage: f("source", b.image); break;
    case ContentBlock::Type::kToolUse:
      f("id", b.id);
      f("name", b.name);
      f("input", b.input);
      break;
    case ContentBlock::Type::kToolResult:
      f("tool_use_id", b.tool_use_id);
      if (b.content_is_string && b.content.size() == 1) {
        f("content", b.content.front().text);
      } else {
        f("content", detail::omit_when_absent(b.content));
      }
      if (b.is_error) f("is_error", b.is_error);
      break;
  }
  f("cache_control", detail::omit_when_absent(b.cache_control));
}

template <class F>
void for_each_field(const ToolSpec& t, F&& f) {
  f("name", t.name);
  f("description", detail::omit_when_absent(t.description));
  f("input_schema", t.input_schema);
  f("cache_control", detail::omit_when_absent(t.cache_control));
}

template <class F>
void for_each_field(const ToolChoice& c, F&& f) {
  f("type", detail::kToolChoiceNames[static_cast<size_t>(c.type)]);
  if (c.type == ToolChoice::Type::kTool) f("name", c.name);
}

// ---- requests (op and the common keys are written by encode_request) ----

template <class F> void for_each_field(const PingRequest&, F&&) {}
template <class F> void for_each_field(const SummaryRequest&, F&&) {}
template <class F> void for_each_field(const EmergencyStatusRequest&, F&&) {}

template <class F>
void for_each_field(const ChatMessage& m, F&& f) {
  f("role", m.role);
  if (m.has_blocks()) {
    f("content", m.blocks);
  } else {
    f("content", m.content);
  }
}

template <class F>
void for_each_field(const CallRequest& r, F&& f) {
  f("ai_name", r.ai_name);
  f("prompt", r.prompt);
  f("messages", r.messages);
  if (!r.system_blocks.empty()) {
    f("system", r.system_blocks);
  } else {
    f("system", r.system);
  }
  f("max_tokens", r.max_tokens);
  f("temperature", r.temperature);
  f("preferred_provider", r.preferred_provider);
  f("model", r.model);
  f("idempotency_key", r.idempotency_key);
  f("timeout_ms", r.timeout_ms);
  // Section 8; a text-only call has none of them and encodes as before.
  f("tools", r.tools);
  f("tool_choice", r.tool_choice);
  f("stop_sequences", r.stop_sequences);
  f("top_p", r.top_p);
  // Section 9; written only when true.
  f("stream", detail::omit_when_absent(r.stream ? std::optional<bool>(true) : std::nullopt));
  // Section 10; written only when true.
  f("cache", detail::omit_when_absent(r.cache ? std::optional<bool>(true) : std::nullopt));
}

template <class F> void for_each_field(const UsageRequest& r, F&& f) { f("ai_name", r.ai_name); }
template <class F> void for_each_field(const RecommendRequest& r, F&& f) { f("ai_name", r.ai_name); }
template <class F> void for_each_field(const ProviderStatusRequest& r, F&& f) { f("ai_name", r.ai_name); }

template <class F>
void for_each_field(const AlertsRequest& r, F&& f) {
  f("limit", r.limit);
  f("since_ms", r.since_ms);
  f("ai_name", r.ai_name);
}

template <class F>
void for_each_field(const HistoryRequest& r, F&& f) {
  f("ai_name", r.ai_name);
  f("months", r.months);
}

template <class F>
void for_each_field(const ResetRequest& r, F&& f) {
  f("ai_name", r.ai_name);
  f("provider", r.provider);
  f("force", r.force);
}

template <class F> void for_each_field(const CancelRequest& r, F&& f) { f("target", r.target); }

template <class F>
void for_each_field(const LedgerEventsRequest& r, F&& f) {
  f("limit", r.limit);
  f("since_ms", r.since_ms);
}

// ---- events ----

template <class F>
void for_each_field(const UsageEvent& e, F&& f) {
  f("ai_name", e.ai_name);
  f("provider", e.provider);
  f("model", e.model);
  f("input_tokens", e.input_tokens);
  f("output_tokens", e.output_tokens);
  f("total_tokens", e.total_tokens);
  f("cost_usd", e.cost_usd);
  f("latency_ms", e.latency_ms);
  f("reason", e.reason);
  f("request_id", e.request_id);
  f("period", e.period);
  f("at_ms", e.at_ms);
  // Section 10: answered from the response cache; written only when true.
  f("cached", detail::omit_when_absent(e.cached ? std::optional<bool>(true) : std::nullopt));
}

template <class F>
void for_each_field(const AlertEvent& e, F&& f) {
  f("level", e.level);
  f("ai_name", e.ai_name);
  f("provider", e.provider);
  f("threshold", e.threshold);
  f("percentage", e.percentage);
  f("used", e.used);
  f("limit", e.limit);
  f("period", e.period);
  f("at_ms", e.at_ms);
  f("message", e.message);
}

template <class F>
void for_each_field(const ProviderEvent& e, F&& f) {
  f("provider", e.provider);
  f("circuit", e.circuit);
  f("reason", e.reason);
  f("at_ms", e.at_ms);
}

template <class F>
void for_each_field(const LedgerReset& e, F&& f) {
  f("ai_name", e.ai_name);
  f("period", e.period);
  f("cleared", e.cleared);
}

template <class F>
void for_each_field(const LedgerRollover& e, F&& f) {
  f("period", e.period);
  f("previous_period", e.previous_period);
}

template <class F>
void for_each_field(const RecoveredEntry& e, F&& f) {
  f("ai_name", e.ai_name);
  f("provider", e.provider);
  f("period", e.period);
  f("tokens", e.tokens);
}

template <class F>
void for_each_field(const LedgerRecovered& e, F&& f) {
  f("entries", e.entries);
  f("total_tokens", e.total_tokens);
}

template <class F>
void for_each_field(const LedgerLimit& e, F&& f) {
  f("ai_name", e.ai_name);
  f("provider", e.provider);
  f("limit", e.limit);
  f("limit_usd", e.limit_usd);
  f("previous_limit", e.previous_limit);
  f("previous_limit_usd", e.previous_limit_usd);
  f("set_by", e.set_by);
}

template <class F>
void for_each_field(const LedgerEvent& e, F&& f) {
  f("kind", ledger_kind(e));
  std::visit([&](const auto& data) { for_each_field(data, f); }, e.data);
  f("at_ms", e.at_ms);
}

// ---- replies ----

template <class F>
void for_each_field(const PingReply& r, F&& f) {
  f("version", r.version);
  f("uptime_ms", r.uptime_ms);
  f("pid", r.pid);
}

template <class F>
void for_each_field(const TokenUsage& u, F&& f) {
  f("input_tokens", u.input_tokens);
  f("output_tokens", u.output_tokens);
  f("total_tokens", u.total_tokens);
  f("cache_creation_input_tokens", detail::omit_when_absent(u.cache_creation_input_tokens));
  f("cache_read_input_tokens", detail::omit_when_absent(u.cache_read_input_tokens));
}

template <class F>
void for_each_field(const CallAttempt& a, F&& f) {
  f("provider", a.provider);
  f("outcome", a.outcome);
  f("code", a.code);
  f("latency_ms", a.latency_ms);
}

template <class F>
void for_each_field(const CallReply& r, F&& f) {
  f("text", r.text);
  f("provider", r.provider);
  f("model", r.model);
  f("reason", r.reason);
  f("usage", r.usage);
  f("cost_usd", r.cost_usd);
  f("attempts", r.attempts);
  f("latency_ms", r.latency_ms);
  f("replayed", r.replayed);
  f("content", r.content);
  f("stop_reason", detail::stop_reason_text(r.stop_reason));
  // Section 10: answered from the response cache; written only when true.
  f("cached", detail::omit_when_absent(r.cached ? std::optional<bool>(true) : std::nullopt));
}

template <class F>
void for_each_field(const AgentProviderUsage& u, F&& f) {
  f("used", u.used);
  f("reserved", u.reserved);
  f("limit", u.limit);
  f("remaining", u.remaining);
  f("percentage", u.percentage);
  f("requests", u.requests);
  f("cost_usd", u.cost_usd);
  f("limit_usd", detail::omit_when_absent(u.limit_usd));  // section 10
}

template <class F>
void for_each_field(const UsageReply& r, F&& f) {
  f("ai_name", r.ai_name);
  f("period", r.period);
  f("level", r.level);
  f("recommended", r.recommended);
  f("providers", r.providers);
}

template <class F>
void for_each_field(const GlobalProviderUsage& u, F&& f) {
  f("used", u.used);
  f("reserved", u.reserved);
  f("limit", u.limit);
  f("percentage", u.percentage);
  f("requests", u.requests);
  f("cost_usd", u.cost_usd);
}

template <class F>
void for_each_field(const AgentProviderBrief& u, F&& f) {
  f("used", u.used);
  f("limit", u.limit);
  f("percentage", u.percentage);
}

template <class F>
void for_each_field(const AgentSummary& a, F&& f) {
  f("ai_name", a.ai_name);
  f("level", a.level);
  f("providers", a.providers);
}

template <class F>
void for_each_field(const UsageTotals& t, F&& f) {
  f("used", t.used);
  f("requests", t.requests);
  f("cost_usd", t.cost_usd);
}

template <class F>
void for_each_field(const SummaryReply& r, F&& f) {
  f("period", r.period);
  f("providers", r.providers);
  f("agents", r.agents);
  f("totals", r.totals);
}

template <class F>
void for_each_field(const RateStatus& r, F&& f) {
  f("minute_used", r.minute_used);
  f("minute_limit", r.minute_limit);
  f("day_used", r.day_used);
  f("day_limit", r.day_limit);
}

template <class F>
void for_each_field(const ProviderState& s, F&& f) {
  f("configured", s.configured);
  f("circuit", s.circuit);
  f("rate", s.rate);
  f("used", s.used);
  f("limit", s.limit);
  f("percentage", s.percentage);
  f("waiting", s.waiting);
}

template <class F>
void for_each_field(const AgentProviderAvailability& a, F&& f) {
  f("available", a.available);
  f("percentage", a.percentage);
  f("why", a.why);
  f("expected_cost_usd", detail::omit_when_absent(a.expected_cost_usd));
}

template <class F>
void for_each_field(const AgentStatus& a, F&& f) {
  f("ai_name", a.ai_name);
  f("recommended", a.recommended);
  f("reason", a.reason);
  f("providers", a.providers);
}

template <class F>
void for_each_field(const ProviderStatusReply& r, F&& f) {
  f("providers", r.providers);
  f("agents", r.agents);
  f("selection", detail::omit_when_absent(r.selection));
}

template <class F>
void for_each_field(const RecommendReply& r, F&& f) {
  f("provider", r.provider);
  f("reason", r.reason);
  f("available", r.available);
  f("selection", detail::omit_when_absent(r.selection));
  f("expected_cost_usd", detail::omit_when_absent(r.expected_cost_usd));
}

template <class F>
void for_each_field(const AgentAtRisk& a, F&& f) {
  f("ai_name", a.ai_name);
  f("provider", a.provider);
  f("percentage", a.percentage);
  f("level", a.level);
}

template <class F>
void for_each_field(const EmergencyStatusReply& r, F&& f) {
  f("level", r.level);
  f("shutdown", r.shutdown);
  f("reasons", r.reasons);
  f("providers", r.providers);
  f("agents_at_risk", r.agents_at_risk);
}

template <class F> void for_each_field(const AlertsReply& r, F&& f) { f("alerts", r.alerts); }

template <class F>
void for_each_field(const HistoryProviderMonth& m, F&& f) {
  f("used", m.used);
  f("requests", m.requests);
  f("cleared", m.cleared);
}

template <class F>
void for_each_field(const HistoryMonth& m, F&& f) {
  f("period", m.period);
  f("providers", m.providers);
  f("total_tokens", m.total_tokens);
  f("cost_usd", m.cost_usd);
}

template <class F>
void for_each_field(const HistoryReply& r, F&& f) {
  f("ai_name", r.ai_name);
  f("months", r.months);
}

template <class F>
void for_each_field(const ResetReply& r, F&& f) {
  f("ai_name", r.ai_name);
  f("period", r.period);
  f("cleared", r.cleared);
}

template <class F> void for_each_field(const LedgerEventsReply& r, F&& f) { f("events", r.events); }

// Section 9: each type of chunk has its own fields.
template <class F>
void for_each_field(const StreamChunk& c, F&& f) {
  f("type", chunk_type_name(c.type));
  f("index", c.index);
  switch (c.type) {
    case StreamChunk::Type::kTextDelta:
      f("text", c.text);
      break;
    case StreamChunk::Type::kToolUseStart:
      f("id", c.id);
      f("name", c.name);
      break;
    case StreamChunk::Type::kInputJsonDelta:
      f("partial_json", c.text);
      break;
  }
}

template <class F>
void for_each_field(const CallPartReply& r, F&& f) {
  f("part", r.part);
  f("chunk", r.chunk);
}

template <class F> void for_each_field(const CancelReply& r, F&& f) { f("found", r.found); }

}  // namespace tollgate::protocol

// Section 10 (operator ops).
#include "protocol/wire_fields_operator.h"
