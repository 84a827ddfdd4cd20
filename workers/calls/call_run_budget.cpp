// CallRun's budget refusals (PROTOCOL.md section 3, rules 4 and 6;
// section 4): the skip a refused reservation records, with what the call
// needs and what is left, and the provider's own count of the input near
// the end of a budget. Worker thread only, like the rest of CallRun.
#include <algorithm>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "daemon/core/request_id_format.h"
#include "workers/calls/call_run.h"

namespace tollgate::workers {
namespace {

constexpr int64_t kCountTimeoutMs = 10000;

// The input bound from the provider's own count: count_tokens is documented
// as an estimate that may differ a little from what the call reports, so a
// margin of 5% (at least kPerRequestOverhead) goes on top.
uint64_t counted_bound(uint64_t count) {
  return count + std::max<uint64_t>(ledger::kPerRequestOverhead, count / 20);
}

std::string whose(const ledger::ReserveOutcome& r, const std::string& agent) {
  return r.status == ledger::ReserveStatus::kAgentDoesNotFit ? "agent " + agent + "'s budget"
                                                             : "the global budget";
}

// The skip detail of a refused reservation: what the call needs and what is
// left, so a person knows to lower max_tokens (PROTOCOL.md section 4).
// A dollar budget's refusal (PROTOCOL.md section 10), in dollars.
std::string usd_refusal_detail(const std::string& provider, const std::string& agent,
                               const ledger::ReserveOutcome& r, double threshold) {
  char head[160];
  std::snprintf(head, sizeof head, "%s: may cost $%.4f, $%.4f left", provider.c_str(),
                r.needed_usd, r.left_usd);
  char tail[160];
  switch (r.refused_by) {
    case ledger::RefusedBy::kLimit:
      std::snprintf(tail, sizeof tail, ": $%.4f of $%.2f spent", r.limit_usd - r.left_usd,
                    r.limit_usd);
      break;
    case ledger::RefusedBy::kThreshold:
      std::snprintf(tail, sizeof tail, " reached the fallback threshold %.1f%%", threshold * 100);
      break;
    case ledger::RefusedBy::kInFlight:
      std::snprintf(tail, sizeof tail, ": $%.4f held by calls in flight when the admission "
                    "wait ended", r.in_flight_usd);
      break;
  }
  return std::string(head) + " (" + whose(r, agent) + " in dollars" + tail + ")";
}

std::string refusal_detail(const std::string& provider, const std::string& agent,
                           const ledger::ReserveOutcome& r, double threshold) {
  using policy::grouped_number;
  if (r.usd) return usd_refusal_detail(provider, agent, r, threshold);
  std::string head = provider + ": needs " + grouped_number(r.needed) + ", " +
                     grouped_number(r.left) + " left";
  switch (r.refused_by) {
    case ledger::RefusedBy::kLimit:
      return head + " (" + whose(r, agent) + ": " + grouped_number(r.limit - r.left) + " of " +
             grouped_number(r.limit) + " used)";
    case ledger::RefusedBy::kThreshold: {
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.1f%%", threshold * 100.0);
      return head + " (" + whose(r, agent) + " reached the fallback threshold " + pct + ")";
    }
    case ledger::RefusedBy::kInFlight:
      return head + " (" + whose(r, agent) + ": " + grouped_number(r.in_flight) +
             " held by calls in flight when the admission wait ended)";
  }
  return head;
}

}  // namespace

void CallRun::skip_for_rate(const ledger::ReserveOutcome& refusal) {
  records_.push_back(policy::skip_record(
      current_.provider,
      {policy::Reason::kFallbackRateLimit,
       current_.provider + ": rate limit reached (counted in the ledger, across every daemon "
                           "that shares it)",
       refusal.retry_after_ms}));
  next_step();
}

void CallRun::skip_for_budget(const ledger::ReserveOutcome& refusal) {
  records_.push_back(policy::skip_record(
      current_.provider,
      {policy::Reason::kFallbackThreshold,
       refusal_detail(current_.provider, spec_.request.ai_name, refusal,
                      spec_.config->fallback_threshold),
       std::nullopt}));
  next_step();
}

void CallRun::count_input(const ledger::ReserveOutcome& refusal, HttpRequest count_request) {
  counted_ = true;
  HttpRequestOptions options;
  options.total_timeout_ms = std::clamp<int64_t>(remaining_ms(), 1, kCountTimeoutMs);
  options.connect_timeout_ms = std::min(kConnectTimeoutMs, options.total_timeout_ms);
  worker_.transport().submit(std::move(count_request), options, {},
                             [self = shared_from_this(), refusal](HttpResponse response) {
                               self->on_counted(response, refusal);
                             });
}

void CallRun::on_counted(const HttpResponse& response, const ledger::ReserveOutcome& refusal) {
  const auto count = adapter_->parse_count_response(response);
  if (!count) {
    spdlog::info("request {}: {} could not count the input ({}); keeping the byte bound",
                 spec_.id, current_.provider,
                 response.transport_ok() ? "HTTP " + std::to_string(response.status)
                                         : response.error);
    skip_for_budget(refusal);
    return;
  }
  const uint64_t bound = counted_bound(*count) + call_.max_tokens;
  if (bound >= amount_ || bound > refusal.left) {
    ledger::ReserveOutcome still = refusal;
    still.needed = std::min(bound, amount_);
    skip_for_budget(still);
    return;
  }
  spdlog::debug("request {}: {} counts {} input tokens; reserving {} instead of {}",
                spec_.id, current_.provider, *count, bound, amount_);
  amount_ = bound;
  try_provider(current_);
}

}  // namespace tollgate::workers
