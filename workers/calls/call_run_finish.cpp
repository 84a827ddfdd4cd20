// CallRun's end (PROTOCOL.md section 3, `call`): the commit's answer, the
// reply made of a served call, the events the call produced, and the
// hand-off of the outcome to the pool (CallEnvironment::finish), typed: the
// server's edge encodes it. Worker thread only, like the rest of CallRun.
#include <spdlog/spdlog.h>

#include <chrono>

#include "daemon/core/reports.h"
#include "daemon/core/request_id_format.h"
#include "workers/calls/call_run.h"

namespace tollgate::workers {

void CallRun::on_committed(const protocol::Result<ledger::CommitOutcome>& r) {
  if (done_) {
    // Answered (timeout) while the ledger charged it: the charge stands, and
    // its usage event and alerts go out on their own.
    if (!r) {
      spdlog::error("request {}: the call was served but could not be charged: {}",
                    spec_.id, r.error().message);
      return;
    }
    publish_late(usage_event(), r->alerts, r->rollover);
    return;
  }
  if (!r) {
    // The reservation stays; recovery charges it in full at the next start.
    finish_error(protocol::Error::internal("ledger: the call was served but could not be charged: " +
                                 r.error().message));
    return;
  }
  if (r->deferred) {
    // Charged once the ledger recovers (ledger.h): the usage event says so
    // now, the reply that the charge could not be made yet.
    events_.emplace_back(usage_event());
    finish_error(protocol::Error::internal(
        "ledger: the call was served but could not be charged now (" + r->deferred_reason +
        "); its " + std::to_string(reply_.input_tokens + reply_.output_tokens) +
        " tokens are kept and charged once the ledger recovers"));
    return;
  }
  spdlog::trace("request {}: ledger charged {} of {} reserved tokens on {} in {}", spec_.id,
                r->charged, r->reserved, r->provider, r->period);
  add_ledger_events(r->alerts, r->rollover);
  finish_ok();
}

protocol::UsageEvent CallRun::usage_event() const {
  const std::string reason(
      policy::reason_name(policy::reason_after(records_, current_.preferred)));
  return protocol::UsageEvent{spec_.request.ai_name, current_.provider, reply_.model,
                              reply_.input_tokens, reply_.output_tokens,
                              reply_.input_tokens + reply_.output_tokens, cost_usd_, elapsed_ms(),
                              reason, spec_.id, period_, env_.now_ms()};
}

void CallRun::publish_late(std::optional<protocol::UsageEvent> usage,
                           const std::vector<ledger::Alert>& alerts,
                           const std::optional<ledger::Rollover>& rollover) {
  std::vector<protocol::Event> events;
  if (usage) events.emplace_back(std::move(*usage));
  if (rollover) events.emplace_back(rollover_event(*rollover, env_.now_ms()));
  append_alert_events(alerts, events);
  if (!events.empty() && env_.publish) env_.publish(std::move(events));
}

void CallRun::add_ledger_events(const std::vector<ledger::Alert>& alerts,
                                const std::optional<ledger::Rollover>& rollover) {
  if (rollover) events_.emplace_back(rollover_event(*rollover, env_.now_ms()));
  append_alert_events(alerts, events_);
}

protocol::CallReply CallRun::make_reply() {
  protocol::CallReply reply;
  reply.text = reply_.text;
  reply.provider = current_.provider;
  reply.model = reply_.model;
  reply.reason = std::string(policy::reason_name(policy::reason_after(records_, current_.preferred)));
  reply.usage.input_tokens = reply_.input_tokens;
  reply.usage.output_tokens = reply_.output_tokens;
  reply.usage.total_tokens = reply_.input_tokens + reply_.output_tokens;
  reply.usage.cache_creation_input_tokens = reply_.cache_creation_input_tokens;
  reply.usage.cache_read_input_tokens = reply_.cache_read_input_tokens;
  reply.cost_usd = cost_usd_;
  reply.content = reply_.content;
  // An adapter that read no blocks (a text-only answer): the text is one.
  if (reply.content.empty() && !reply_.text.empty()) {
    reply.content.push_back(protocol::ContentBlock::make_text(reply_.text));
  }
  reply.stop_reason = reply_.stop_reason;
  records_.push_back(policy::ok_record(current_.provider, provider_latency_ms_));
  for (const auto& rec : records_) {
    auto code = policy::attempt_code(rec);
    reply.attempts.push_back({rec.provider, std::string(policy::outcome_name(rec.outcome)),
                              code.empty() ? std::nullopt : std::optional<std::string>(code),
                              rec.latency_ms});
  }
  reply.latency_ms = elapsed_ms();
  return reply;
}

void CallRun::report_times() {
  if (!env_.on_times) return;
  const auto now = env_.clock->steady_now();
  Clock::SteadyTime::duration waited = ledger_waited_;
  if (ledger_wait_ != nullptr) waited += now - ledger_wait_started_;
  double provider_ms = provider_waited_ms_;
  if (transfer_ != 0) provider_ms += std::chrono::duration<double, std::milli>(now - attempt_started_).count();
  CallTimes times;
  times.total = std::chrono::duration<double>(now - spec_.received).count();
  times.ledger_wait = std::chrono::duration<double>(waited).count();
  times.provider_wait = provider_ms / 1000.0;
  env_.on_times(times);
}

void CallRun::finish_ok() {
  if (done_) return;
  done_ = true;
  protocol::CallReply reply = std::move(answer_);
  reply.latency_ms = elapsed_ms();  // the commit included
  spdlog::trace("request {}: call answered by {} ({}) in {:.1f} ms", spec_.id, reply.provider,
                reply.reason, reply.latency_ms);
  events_.emplace_back(protocol::UsageEvent{
      spec_.request.ai_name, reply.provider, reply.model, reply.usage.input_tokens,
      reply.usage.output_tokens, reply.usage.total_tokens, reply.cost_usd, reply.latency_ms,
      reply.reason, spec_.id, period_, env_.now_ms()});
  report_times();
  env_.finish(spec_, CallOutcome{std::move(reply), std::move(events_)});
}

void CallRun::finish_error(protocol::Error error) {
  if (done_) return;
  done_ = true;
  spdlog::trace("request {}: call failed: {} after {:.1f} ms", spec_.id,
                protocol::code_name(error.code), elapsed_ms());
  report_times();
  env_.finish(spec_, CallOutcome{std::move(error), std::move(events_)});
}

}  // namespace tollgate::workers
