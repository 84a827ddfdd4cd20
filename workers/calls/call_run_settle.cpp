// CallRun after an attempt failed (PROTOCOL.md section 3, `call`): its
// reservation is settled first (released when the provider cannot have
// served it, else charged: in full, or as a cut stream), then the call
// retries with backoff, moves on to the next candidate, or ends (a
// request error, a cancel, a stream past its first part). Worker thread
// only, like the rest of CallRun.
#include <spdlog/spdlog.h>

#include "daemon/core/policy/backoff.h"
#include "daemon/core/request_id_format.h"
#include "workers/calls/call_run.h"
#include "workers/calls/call_run_rules.h"

namespace tollgate::workers {

using protocol::Error;

void CallRun::attempt_failed(const ProviderFailure& failure, bool served) {
  // The reservation is settled (durably, or kept by a degraded ledger until
  // it recovers) before the call moves on, so no reply (and no retry) ever
  // leaves a reservation behind.
  if (served) {
    // The provider may have served it: charge the reservation in full.
    spdlog::warn("request {}: {} failed after possibly serving it ({}); charging {} tokens",
                 spec_.id, current_.provider, failure.message, amount_);
    charge_failed_attempt(failure, full_charge());
    return;
  }
  last_failure_ = failure;
  const uint64_t reservation = reservation_id_;
  reservation_id_ = 0;
  spdlog::info("request {}: {} attempt {} failed before it was served ({}); releasing {} tokens",
               spec_.id, current_.provider, attempts_, failure.message, amount_);
  env_.ledger->release_async(reservation, await_ledger("release", &CallRun::on_released));
}

void CallRun::charge_failed_attempt(const ProviderFailure& failure,
                                    std::pair<uint64_t, uint64_t> charge) {
  last_failure_ = failure;
  const int64_t now = env_.now_ms();
  const uint64_t reservation = reservation_id_;
  reservation_id_ = 0;
  const auto [in, out] = charge;
  // Priced like any charge: the model asked for, at its configured rates.
  const double cost = priced(*spec_.config, call_.model, call_.model, in, out);
  events_.emplace_back(protocol::UsageEvent{spec_.request.ai_name, current_.provider,
                                            call_.model, in, out, in + out, cost, attempt_ms(),
                                            "unconfirmed", spec_.id, period_, now});
  env_.ledger->commit_async({reservation, in, out, cost, now},
                            await_ledger("commit", &CallRun::on_charged_in_full));
}

// A settlement the ledger kept because it is degraded (deferred) counts as
// settled: the ledger applies it once it recovers (ledger.h).
void CallRun::on_charged_in_full(const protocol::Result<ledger::CommitOutcome>& r) {
  if (done_) {
    if (r && !r->deferred) publish_late({}, r->alerts, r->rollover);
    return;
  }
  if (!r) {
    finish_error(protocol::Error::internal("ledger: " + r.error().message));
    return;
  }
  add_ledger_events(r->alerts, r->rollover);
  retry_or_move_on();
}

void CallRun::on_released(const protocol::Result<ledger::ReleaseOutcome>& r) {
  if (done_) {
    if (!r) spdlog::error("request {}: release failed: {}", spec_.id, r.error().message);
    return;
  }
  if (!r) {
    finish_error(protocol::Error::internal("ledger: " + r.error().message));
    return;
  }
  retry_or_move_on();
}

void CallRun::release_unsent(uint64_t reservation) {
  spdlog::info("request {}: answered before its reservation at {} was made; releasing it",
               spec_.id, current_.provider);
  env_.ledger->release_async(reservation, [id = spec_.id.to_display()](auto r) {
    if (!r) spdlog::error("request {}: release failed: {}", id, r.error().message);
  });
}

void CallRun::mark_if_refused(const ProviderFailure& failure) {
  if (auto why = unusable_after(current_.provider, failure)) {
    spdlog::warn("{}: {}", why->detail, failure.message);
    env_.runtime->mark_unusable(current_.provider, std::move(*why));
  }
}

void CallRun::retry_or_move_on() {
  const auto& failure = last_failure_;
  if (cancelled_) {
    protocol::Error why = *cancelled_;
    why.partial = parts_sent_ > 0;
    finish_error(std::move(why));
    return;
  }
  // Once a part went out the reply cannot start over (PROTOCOL.md section 9).
  if (parts_sent_ > 0) {
    finish_error(partial_error(failure));
    return;
  }
  if (ends_call(failure)) {
    // Any other 4xx: the request itself is wrong, so every provider would
    // refuse it too; the caller gets the provider's own words.
    finish_error(Error::provider_error(current_.provider + " refused the request (not retried, " +
                                       "no fallback): " + failure.message));
    return;
  }
  if (failure.retryable && attempts_ < spec_.config->max_attempts && !env_.stopping->load()) {
    auto backoff = policy::backoff_delay_ms(attempts_, kBackoffBaseMs, kBackoffCapMs,
                                            failure.retry_after_ms, remaining_ms(), worker_.jitter01());
    if (!backoff.give_up) {
      worker_.post_after(std::chrono::milliseconds(backoff.delay_ms),
                         [self = shared_from_this()] { self->try_provider(self->current_); });
      return;
    }
  }
  give_up_provider(failure_code(failure), failure.message);
}

void CallRun::give_up_provider(const std::string& code, const std::string& message) {
  records_.push_back(policy::error_record(current_.provider, code, message, provider_latency_ms_));
  next_step();
}

}  // namespace tollgate::workers
