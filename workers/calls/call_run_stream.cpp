// CallRun's streamed attempts and cancel (PROTOCOL.md section 9).
//
// A streamed attempt reads the provider's server-sent events as the bytes
// arrive (SseParser, the adapter's parse_stream_event, StreamAccumulator)
// and sends each part at once (CallEnvironment::part). The answer ends in
// one of three ways:
//   complete  (message_stop / [DONE])  -> committed like a non-streamed
//             answer: the usage the provider reported, else the cut-stream
//             charge below;
//   not begun (an error status, no connection) -> the non-streamed rules;
//   cut       (a transport error, an error event, the deadline, the idle
//             timeout, a cancel, shutdown) -> charged what the provider
//             reported of its usage, else its input (or the input bound)
//             plus the output bound (max_tokens): never less than used.
// Before the first part a failed attempt is retried or falls back as
// usual; after it the call ends with the error, partial.
//
// Worker thread only, like the rest of CallRun.
#include <spdlog/spdlog.h>

#include "daemon/core/request_id_format.h"
#include "workers/calls/call_run.h"

namespace tollgate::workers {

using protocol::Error;

void CallRun::cancel(Error why) {
  if (done_ || cancelled_) return;
  spdlog::debug("request {}: cancelled: {}", spec_.id, why.message);
  cancelled_ = why;
  if (transfer_ != 0) {
    // The attempt ends at the transport's next step; its settlement then
    // answers the call (retry_or_move_on).
    worker_.transport().cancel(transfer_, "cancelled");
    return;
  }
  // A charge or release being written is waited for: the answer follows
  // it. A reservation being made is released when it comes (done_).
  if (ledger_wait_ != nullptr && std::string_view(ledger_wait_) != "reserve") return;
  finish_error(std::move(why));
}

void CallRun::on_stream_bytes(std::string_view bytes) {
  StreamAttempt* s = stream_.get();
  if (!s || done_) return;
  s->last_bytes = env_.clock->steady_now();
  s->began = true;
  s->events.clear();
  if (!s->parser.feed(bytes, s->events)) {
    // Garbage the parser cannot hold: the stream is cut (charged as such).
    if (transfer_ != 0) worker_.transport().cancel(transfer_, "stream: " + s->parser.error());
    return;
  }
  for (const SseEvent& event : s->events) {
    s->parts.clear();
    s->accumulator.add(adapter_->parse_stream_event(event.event, event.data, call_.api_key),
                       s->parts);
    for (auto& chunk : s->parts) {
      ++parts_sent_;
      if (env_.part) env_.part(spec_, protocol::CallPartReply{parts_sent_, std::move(chunk)});
    }
  }
}

void CallRun::arm_idle_check(int64_t in_ms) {
  worker_.post_after(std::chrono::milliseconds(std::max<int64_t>(1, in_ms)),
                     [weak = weak_from_this(), transfer = transfer_] {
                       if (auto self = weak.lock()) self->on_idle_check(transfer);
                     });
}

void CallRun::on_idle_check(TransferId transfer) {
  if (done_ || !stream_ || transfer_ != transfer) return;  // that attempt ended
  const auto idle_ms = static_cast<int64_t>(spec_.config->stream_idle_ms);
  const auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(
                         env_.clock->steady_now() - stream_->last_bytes)
                         .count();
  if (quiet < idle_ms) {
    if (!env_.stopping->load()) arm_idle_check(idle_ms - quiet);
    return;
  }
  spdlog::warn("request {}: {} sent nothing for {} ms (TOLLGATE_STREAM_IDLE_MS); ending the stream",
               spec_.id, current_.provider, quiet);
  stream_->idle = true;
  worker_.transport().cancel(transfer_, "stream idle for " + std::to_string(quiet) + " ms");
}

std::pair<uint64_t, uint64_t> CallRun::cut_stream_charge() const {
  const uint64_t out_bound = std::min<uint64_t>(call_.max_tokens, amount_);
  const uint64_t in_bound = amount_ - out_bound;
  if (!stream_) return {in_bound, out_bound};
  const auto reported = stream_->accumulator.input_tokens();
  // Never below what the provider said it read, never above the bound held
  // (a count over it is charged as counted: the provider's word).
  return {reported ? *reported : in_bound, out_bound};
}

Error CallRun::partial_error(const ProviderFailure& failure) const {
  const std::string sent = " after " + std::to_string(parts_sent_) + " parts";
  Error e = env_.stopping->load()
                ? Error::internal("tollgated is shutting down; the stream was cut" + sent)
            : failure.kind == FailureKind::kTimeout
                ? Error::timeout(current_.provider + ": the stream timed out" + sent + ": " +
                                 failure.message)
                : Error::provider_error(current_.provider + ": the stream failed" + sent + ": " +
                                        failure.message);
  e.partial = true;
  return e;
}

void CallRun::on_stream_end(const HttpResponse& response) {
  const double this_attempt_ms = end_attempt();
  const int64_t now = env_.now_ms();
  const bool began = stream_->began || (response.status >= 200 && response.status <= 299);
  if (!began) {
    // No stream: an error status, no connection, or cancelled before the
    // answer began. Read like a non-streamed answer.
    stream_.reset();
    auto result = adapter_->interpret_response(response, now, call_.api_key);
    spdlog::trace("request {}: {} streamed attempt {} ended before it began: {}",
                  spec_.id, current_.provider, attempts_, result.failure.message);
    record_failure(result.failure, response);
    attempt_failed(result.failure, may_have_served(result.failure, response.request_sent,
                                                   provider_->gateway_5xx_charged()));
    return;
  }
  StreamAccumulator& acc = stream_->accumulator;
  ProviderResult result = acc.result();
  if (response.transport_ok() && acc.done() && result.ok()) {
    const auto if_no_usage = cut_stream_charge();
    stream_.reset();
    spdlog::trace("request {}: {} stream complete after {} parts in {:.1f} ms",
                  spec_.id, current_.provider, parts_sent_, this_attempt_ms);
    commit_answer(std::move(result), if_no_usage);
    return;
  }
  ProviderFailure failure;
  if (acc.failed()) {
    failure = result.failure;
  } else if (stream_->idle) {
    failure = {FailureKind::kTimeout, 0, true, std::nullopt,
               "no bytes for " + std::to_string(spec_.config->stream_idle_ms) +
                   " ms (TOLLGATE_STREAM_IDLE_MS)"};
  } else if (!response.transport_ok()) {
    failure = adapter_->interpret_response(response, now, call_.api_key).failure;
  } else {
    failure = {FailureKind::kTransport, 0, true, std::nullopt,
               "the stream ended before the provider finished it"};
  }
  // What the provider reported before the cut is its word; else the bounds.
  std::pair<uint64_t, uint64_t> charge = cut_stream_charge();
  if (acc.usage_reported() && !acc.failed()) {
    charge = {result.reply.input_tokens, result.reply.output_tokens};
  }
  stream_.reset();
  spdlog::warn("request {}: {} stream cut after {} parts ({}); charging {} input + {} output tokens",
               spec_.id, current_.provider, parts_sent_, failure.message,
               charge.first, charge.second);
  record_failure(failure, response);
  charge_failed_attempt(failure, charge);
}

}  // namespace tollgate::workers
