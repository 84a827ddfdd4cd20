#include "workers/calls/call_run.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "daemon/core/policy/backoff.h"
#include "daemon/core/request_id_format.h"
#include "daemon/core/selection_snapshot.h"
#include "workers/calls/call_run_rules.h"

namespace tollgate::workers {

using protocol::Error;

namespace {

// How long past the deadline a ledger operation started at the deadline may
// take before the call is answered `timeout` anyway.
constexpr int64_t kLedgerGraceMs = 1000;

const char* refused_by_name(ledger::RefusedBy by) {
  switch (by) {
    case ledger::RefusedBy::kLimit: return "limit";
    case ledger::RefusedBy::kThreshold: return "fallback threshold";
    case ledger::RefusedBy::kInFlight: return "held by calls in flight";
  }
  return "limit";
}

}  // namespace

CallRun::CallRun(CallSpec spec, const CallEnvironment& env, CallLoop& worker)
    : spec_(std::move(spec)), env_(env), worker_(worker) {
  env_.alive->add();
}

CallRun::~CallRun() { env_.alive->remove(); }

void CallRun::post(std::function<void(CallRun&)> step) {
  worker_.post([self = shared_from_this(), step = std::move(step)] { step(*self); });
}

template <class T>
ledger::Callback<T> CallRun::await_ledger(const char* what,
                                          void (CallRun::*step)(const protocol::Result<T>&)) {
  ledger_wait_ = what;
  ledger_wait_since_ms_ = env_.now_ms();
  ledger_wait_started_ = env_.clock->steady_now();
  arm_deadline(remaining_ms());
  return [self = shared_from_this(), step](protocol::Result<T> r) {
    self->worker_.post([self, step, r = std::move(r)] {
      self->ledger_wait_ = nullptr;
      self->ledger_waited_ += self->env_.clock->steady_now() - self->ledger_wait_started_;
      ((*self).*step)(r);
    });
  };
}

// The other files of CallRun await these (call_run_settle.cpp).
template ledger::Callback<ledger::CommitOutcome> CallRun::await_ledger(
    const char*, void (CallRun::*)(const protocol::Result<ledger::CommitOutcome>&));
template ledger::Callback<ledger::ReleaseOutcome> CallRun::await_ledger(
    const char*, void (CallRun::*)(const protocol::Result<ledger::ReleaseOutcome>&));

// A ledger that cannot be reached or written says so (ledger_unavailable,
// with when to retry); anything else it reports is internal.
Error CallRun::ledger_error(const Error& e) {
  if (e.code == protocol::ErrorCode::kLedgerUnavailable) {
    return Error::ledger_unavailable("ledger: " + e.message, e.retry_after_ms.value_or(1000));
  }
  return Error::internal("ledger: " + e.message);
}

int64_t CallRun::remaining_ms() const { return deadline_ms_ - env_.now_ms(); }

std::pair<uint64_t, uint64_t> CallRun::full_charge() const {
  const uint64_t out = std::min<uint64_t>(call_.max_tokens, amount_);
  return {amount_ - out, out};
}

double CallRun::elapsed_ms() const {
  return std::chrono::duration<double, std::milli>(env_.clock->steady_now() - spec_.received)
      .count();
}

double CallRun::attempt_ms() const {
  return std::chrono::duration<double, std::milli>(env_.clock->steady_now() - attempt_started_)
      .count();
}

double CallRun::end_attempt() {
  const double ms = attempt_ms();
  provider_latency_ms_ += ms;
  provider_waited_ms_ += ms;
  if (env_.on_attempt) env_.on_attempt(current_.provider, ms / 1000.0);
  return ms;
}

void CallRun::start() {
  const auto& req = spec_.request;
  const auto& config = *spec_.config;
  if (req.prompt) {
    Message m;
    m.role = "user";
    m.content = *req.prompt;
    call_.messages.push_back(std::move(m));
  } else {
    call_.messages = req.messages;
  }
  call_.system = req.system;
  call_.system_blocks = req.system_blocks;
  call_.tools = req.tools;
  call_.tool_choice = req.tool_choice;
  call_.stop_sequences = req.stop_sequences;
  call_.top_p = req.top_p;
  call_.stream = req.stream;
  call_.max_tokens = static_cast<uint32_t>(req.max_tokens.value_or(config.default_max_tokens));
  call_.temperature = req.temperature.value_or(config.default_temperature);
  deadline_ms_ = spec_.received_ms +
                 static_cast<int64_t>(req.timeout_ms ? static_cast<uint64_t>(*req.timeout_ms)
                                                     : config.call_timeout_ms);
  plan();
}

void CallRun::plan() {
  const int64_t now = env_.now_ms();
  auto snapshot = env_.ledger->snapshot(spec_.request.ai_name, now);
  if (!snapshot) {
    finish_error(ledger_error(snapshot.error()));
    return;
  }
  // Reservation 0: whether the call fits is the ledger's answer at reserve
  // time (it may wait for calls in flight, or fit once the provider counted
  // the input). The plan passes over exhausted budgets and thresholds.
  auto input = selection_input(*spec_.config, *snapshot, *env_.runtime, spec_.request.ai_name,
                               0, spec_.request.preferred_provider, now);
  input.needed = spec_.reservation;
  input.model = spec_.request.model;
  const uint64_t input_bound =
      spec_.reservation > call_.max_tokens ? spec_.reservation - call_.max_tokens : 0;
  price_chain(input, *spec_.config, spec_.request.ai_name, input_bound, call_.max_tokens);
  plan_ = policy::select_providers(input);
  step_ = 0;
  next_step();
}

void CallRun::next_step() {
  if (done_) return;
  if (cancelled_) {
    finish_error(*cancelled_);
    return;
  }
  if (env_.stopping->load()) {
    finish_error(shutdown_error());
    return;
  }
  if (remaining_ms() <= 0) {
    finish_error(Error::timeout("call: deadline passed after " +
                                std::to_string(static_cast<int64_t>(elapsed_ms())) + " ms"));
    return;
  }
  while (step_ < plan_.steps.size()) {
    const auto& step = plan_.steps[step_++];
    if (step.skip) {
      records_.push_back(policy::skip_record(step));
      continue;
    }
    current_ = step;
    provider_ = spec_.config->provider(step.provider);
    if (!provider_) continue;  // cannot happen: the plan comes from the config
    adapter_ = env_.adapters->find(provider_->api);
    if (!adapter_) {  // cannot happen: the config names only APIs with an adapter
      records_.push_back(policy::error_record(step.provider, "provider_error",
                                              step.provider + ": no adapter for api " + provider_->api,
                                              0));
      continue;
    }
    call_.api_key = provider_->api_key;
    call_.base_url = provider_->base_url;
    call_.model = spec_.request.model.value_or(spec_.config->model_for(spec_.request.ai_name, provider_->name));
    // A part this provider's format cannot carry is the request's fault:
    // refused before anything is reserved or sent.
    if (auto unsupported = adapter_->unsupported(call_, provider_->image_urls)) {
      finish_error(Error::bad_request(step.provider + ": " + *unsupported));
      return;
    }
    attempts_ = 0;
    provider_latency_ms_ = 0;
    amount_ = spec_.reservation;
    counted_ = false;
    try_provider(step);
    return;
  }
  finish_error(policy::final_error(spec_.request.ai_name, records_));
}

bool CallRun::last_in_chain(const std::string& provider) const {
  return spec_.config->last_in_chain(spec_.request.ai_name, provider);
}

void CallRun::try_provider(const policy::PlanStep& step) {
  if (done_) return;  // cancelled while it waited to retry
  // A retry whose wait ended because the daemon is stopping (the pool
  // fires pending timers at shutdown) must not reserve: its request would
  // never be sent, and nothing unsent may be charged.
  if (env_.stopping->load()) {
    finish_error(shutdown_error());
    return;
  }
  const int64_t now = env_.now_ms();
  auto admission = env_.runtime->admit(step.provider, now);
  for (auto& e : admission.events) events_.emplace_back(std::move(e));
  if (!admission.allowed) {
    if (attempts_ > 0) {
      give_up_provider(failure_code(last_failure_), last_failure_.message);
    } else {
      records_.push_back(policy::skip_record(
          step.provider, {admission.refused_for, admission.detail, admission.retry_after_ms}));
      next_step();
    }
    return;
  }
  permit_ = admission.permit;
  admitted_ms_ = now;
  ledger::ReserveRequest r;
  r.agent = spec_.request.ai_name;
  r.provider = step.provider;
  r.amount = amount_;
  r.request_id = spec_.id.to_display();
  r.now_ms = now;
  const int64_t wait_ms =
      std::clamp<int64_t>(remaining_ms(), 0, static_cast<int64_t>(spec_.config->admission_wait_ms));
  r.wait_until = env_.clock->steady_now() + std::chrono::milliseconds(wait_ms);
  if (!last_in_chain(step.provider)) r.soft_threshold = spec_.config->fallback_threshold;
  // Crash recovery charges the whole reservation; it is priced like a
  // charge in full here (full_charge).
  const auto [full_in, full_out] = full_charge();
  r.full_cost_usd = priced(*spec_.config, call_.model, call_.model, full_in, full_out);
  r.idempotency = spec_.idempotency;
  spdlog::trace("request {}: ledger reserve {} tokens of {} {} (may wait {} ms)", spec_.id,
                r.amount, r.agent, r.provider, wait_ms);
  env_.ledger->reserve_async(std::move(r), await_ledger("reserve", &CallRun::on_reserved));
}

void CallRun::on_reserved(const protocol::Result<ledger::ReserveOutcome>& r) {
  if (done_) {
    // Answered (timeout) while the ledger reserved: nothing was sent, so
    // the reservation is released, never charged.
    env_.runtime->unsent(current_.provider, permit_, admitted_ms_);
    if (r && r->reserved()) release_unsent(r->reservation_id);
    return;
  }
  if (!r) {
    env_.runtime->unsent(current_.provider, permit_, admitted_ms_);
    finish_error(ledger_error(r.error()));
    return;
  }
  add_ledger_events({}, r->rollover);
  period_ = r->period;
  if (r->reserved()) {
    spdlog::trace("request {}: ledger reserved {} tokens on {} (reservation {}{})", spec_.id,
                  amount_, current_.provider, r->reservation_id, r->waited ? ", after waiting" : "");
  } else {
    spdlog::trace("request {}: ledger refused {} tokens on {}: {} left of {} ({})", spec_.id,
                  r->needed, current_.provider, r->left, r->limit, refused_by_name(r->refused_by));
  }
  if (!r->reserved()) {
    env_.runtime->unsent(current_.provider, permit_, admitted_ms_);
    if (env_.stopping->load() || (r->waited && env_.draining && env_.draining->load())) {
      finish_error(shutdown_error());
      return;
    }
    if (attempts_ > 0) {
      give_up_provider(failure_code(last_failure_), last_failure_.message);
      return;
    }
    if (r->status == ledger::ReserveStatus::kRateLimited) {
      skip_for_rate(*r);
      return;
    }
    // Near the end of the budget the byte bound may be what does not fit:
    // the provider's own count can be much lower (not one extra request per
    // call, only here).
    if (r->refused_by == ledger::RefusedBy::kLimit && !r->usd && !counted_ &&
        r->left > call_.max_tokens) {
      if (auto count_request = adapter_->build_count_request(call_)) {
        count_input(*r, std::move(*count_request));
        return;
      }
    }
    skip_for_budget(*r);
    return;
  }
  reservation_id_ = r->reservation_id;
  env_.runtime->note_day_count(current_.provider, env_.now_ms(), r->requests_today);
  send();
}

void CallRun::send() {
  ++attempts_;
  attempt_started_ = env_.clock->steady_now();
  const int64_t remaining = remaining_ms();
  HttpRequestOptions options;
  options.total_timeout_ms = std::max<int64_t>(1, remaining);
  options.connect_timeout_ms = std::min(kConnectTimeoutMs, options.total_timeout_ms);
  // Never the key or the prompt: what was asked of whom.
  spdlog::trace("request {}: {} attempt {} start: model {}, max_tokens {}, timeout {} ms",
                spec_.id, current_.provider, attempts_, call_.model, call_.max_tokens,
                options.total_timeout_ms);
  ChunkCallback on_chunk;
  if (call_.stream) {
    stream_ = std::make_unique<StreamAttempt>();
    stream_->last_bytes = env_.clock->steady_now();
    options.stream = true;
    options.max_response_bytes = kMaxStreamBytes;
    on_chunk = [self = shared_from_this()](std::string_view bytes) { self->on_stream_bytes(bytes); };
  }
  transfer_ = worker_.transport().submit(adapter_->build_request(call_), options,
                                         std::move(on_chunk),
                                         [self = shared_from_this()](HttpResponse response) {
                                           self->on_response(response);
                                         });
  if (stream_) arm_idle_check(static_cast<int64_t>(spec_.config->stream_idle_ms));
}

void CallRun::on_response(const HttpResponse& response) {
  transfer_ = 0;
  if (stream_) {
    on_stream_end(response);
    return;
  }
  const double this_attempt_ms = end_attempt();
  const int64_t now = env_.now_ms();
  auto result = adapter_->interpret_response(response, now, call_.api_key);
  spdlog::trace("request {}: {} attempt {} end: {} in {:.1f} ms, {}", spec_.id,
                current_.provider, attempts_,
                response.transport_ok() ? "HTTP " + std::to_string(response.status) : "no answer (" + response.error + ")",
                this_attempt_ms, result.ok() ? std::string("ok") : std::string(kind_name(result.failure.kind)));
  if (!result.ok()) {
    record_failure(result.failure, response);
    attempt_failed(result.failure, may_have_served(result.failure, response.request_sent,
                                                   provider_->gateway_5xx_charged()));
    return;
  }
  commit_answer(std::move(result), full_charge());
}

void CallRun::record_failure(const ProviderFailure& failure, const HttpResponse& response) {
  if (response.cancelled && cancelled_) {
    // The client ended it: no mark against the provider.
    env_.runtime->abandon(current_.provider, permit_);
    return;
  }
  auto events = env_.runtime->record(current_.provider, permit_, false,
                                     static_cast<int>(failure.http_status), env_.now_ms());
  for (auto& e : events) events_.emplace_back(std::move(e));
  mark_if_refused(failure);
}

void CallRun::commit_answer(ProviderResult result, std::pair<uint64_t, uint64_t> if_no_usage) {
  const int64_t now = env_.now_ms();
  for (auto& e : env_.runtime->record(current_.provider, permit_, true, 200, now)) {
    events_.emplace_back(std::move(e));
  }
  reply_ = std::move(result.reply);
  if (reply_.model.empty()) reply_.model = call_.model;
  if (result.status == ProviderResult::Status::kUsageMissing) {
    spdlog::warn("request {}: {} reported no usage; charging the reservation of {} tokens in full",
                 spec_.id, current_.provider, if_no_usage.first + if_no_usage.second);
    std::tie(reply_.input_tokens, reply_.output_tokens) = if_no_usage;
  }
  cost_usd_ = priced(*spec_.config, reply_.model, call_.model, reply_.input_tokens,
                     reply_.output_tokens, reply_.cache_creation_input_tokens,
                     reply_.cache_read_input_tokens);
  ledger::CommitRequest c{reservation_id_, reply_.input_tokens, reply_.output_tokens, cost_usd_, now};
  answer_ = make_reply();
  if (spec_.idempotency && env_.stored_reply) {
    env_.ledger->commit_async(c, env_.stored_reply(*spec_.idempotency, answer_),
                              await_ledger("commit", &CallRun::on_committed));
  } else {
    env_.ledger->commit_async(c, await_ledger("commit", &CallRun::on_committed));
  }
}

void CallRun::arm_deadline(int64_t in_ms) {
  if (deadline_armed_) return;
  deadline_armed_ = true;
  // Weak: a finished call is not kept alive until its deadline.
  worker_.post_after(std::chrono::milliseconds(std::max<int64_t>(0, in_ms)),
                     [weak = weak_from_this()] {
                       if (auto self = weak.lock()) self->on_deadline();
                     });
}

void CallRun::on_deadline() {
  deadline_armed_ = false;
  if (done_ || ledger_wait_ == nullptr) return;  // the next ledger wait arms it again
  // An operation started at (or after) the deadline, such as settling an
  // attempt that timed out there, gets kLedgerGraceMs: a ledger that
  // answers is waited for, so the reply follows the settlement.
  const int64_t due = std::max(deadline_ms_, ledger_wait_since_ms_ + kLedgerGraceMs);
  if (const int64_t left = due - env_.now_ms(); left > 0) {
    // Not yet: the grace, the clocks differ a little, or the pool flushed
    // its timers at shutdown (then the call waits for the ledger's answer).
    if (!env_.stopping->load()) arm_deadline(left);
    return;
  }
  spdlog::warn("request {}: deadline passed while the ledger had not answered its {}",
               spec_.id, ledger_wait_);
  finish_error(Error::timeout("call: deadline passed after " +
                              std::to_string(static_cast<int64_t>(elapsed_ms())) +
                              " ms waiting for the ledger (" + ledger_wait_ +
                              "); the reservation is settled when the ledger answers"));
}

}  // namespace tollgate::workers
