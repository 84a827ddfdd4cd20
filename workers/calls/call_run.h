// CallRun: one `call` request, start to reply, as a state machine on one
// Worker thread (PROTOCOL.md section 3, `call`).
//
//   plan    select_providers over a ledger snapshot and the providers' state
//   admit   circuit permit + local rate slot        refused -> skip, next
//   reserve ledger reservation of the upper bound, queueing for room held
//           by calls in flight (PROTOCOL.md section 3, rule 6)
//           never fits, threshold, or the wait ended -> skip, next
//           never fits by the byte bound, the provider can count -> count
//   count   the provider's count of the input (Anthropic count_tokens),
//           only near the end of a budget; reserve again with it
//   send    HTTP to the provider (the worker's transport)
//   answer  ok            -> commit what the provider reported (and an
//                            idempotent call's reply, in one transaction)
//                            -> reply
//           usage missing -> commit the reservation in full     -> reply
//           failure       -> release (or commit in full when the provider
//                            may have served it), then retry with backoff
//                            or go to the next candidate; key rejected or
//                            out of credit: next candidate, and the
//                            provider is skipped until a reload; any other
//                            4xx but 429: the call ends, provider_error
//   none left -> the rule-5 error
//   stopping  -> "shutting down" before planning a step or reserving (a
//                retry timer fired at shutdown reserves nothing)
//
// An idempotent call's every reservation also writes its pending marker
// (ledger.h), so a crash before the commit leaves the key marked.
//
// Every path ends a reservation exactly once: committed or released. Each
// HTTP attempt has its own reservation, so a retry that no longer fits the
// budget is a skip, never an overshoot. A degraded ledger keeps a commit
// or release and applies it once it recovers (deferred, ledger.h): the
// call treats it as settled; a served call whose charge was deferred is
// answered with the error and its usage event.
//
// The deadline holds whatever the ledger does: a call still waiting for a
// ledger answer at its deadline is answered `timeout` then (an operation
// submitted at the deadline itself, such as settling an attempt that timed
// out there, gets up to a second); the answer, when it comes, still
// settles (a late reservation is released, a late charge publishes its
// usage event and alerts through env.publish).
//
// Worker thread only: ledger callbacks post their step back; the
// transport's callbacks run on the worker already.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/core/config.h"
#include "daemon/ledger/ledger.h"
#include "daemon/server/call_sink.h"
#include "daemon/core/policy/outcome.h"
#include "daemon/core/policy/selection.h"
#include "daemon/core/provider_runtime.h"
#include "protocol/codec.h"
#include "workers/calls/call_loop.h"
#include "workers/calls/live_calls.h"
#include "workers/providers/adapter_registry.h"
#include "workers/providers/provider_types.h"
#include "workers/providers/sse_parser.h"
#include "workers/providers/stream_accumulator.h"

namespace tollgate::workers {

// What every call on a worker shares. Constant after construction.
struct CallSpec;

// How a call's time in the daemon was spent, in seconds: from the loop
// taking it to its answer, of which waiting for its ledger operations
// (reservations, the charge, releases: the writer's queue, the durable
// commit, the hand back) and for its providers' HTTP answers (each
// attempt, from handing the request to the transport to its answer). The
// rest is the daemon's own: planning, encoding, decoding, hand-offs.
struct CallTimes {
  double total = 0;
  double ledger_wait = 0;
  double provider_wait = 0;
  double other() const { return std::max(0.0, total - ledger_wait - provider_wait); }
};

// How long one provider request may take to connect (capped by the call's
// deadline); shared by the call's requests.
inline constexpr int64_t kConnectTimeoutMs = 10000;
// The most bytes a streamed answer may take (events and all).
inline constexpr size_t kMaxStreamBytes = size_t{64} << 20;

struct CallEnvironment {
  ledger::Ledger* ledger = nullptr;
  ProviderRuntime* runtime = nullptr;
  // The adapter of each provider's api (the config only names APIs this
  // registry has).
  const AdapterRegistry* adapters = &AdapterRegistry::builtin();
  // The only time the call reads (deadlines, backoff timers, admission
  // waits, latencies, the ledger's now_ms): SystemClock in tollgated, a
  // ManualClock in unit tests (with a loop whose timers follow it).
  const Clock* clock = &SystemClock::instance();
  // Takes the finished call: its reply or error, typed (the server's edge
  // encodes it), and the events it produced. Worker threads.
  std::function<void(const CallSpec&, CallOutcome)> finish;
  // An idempotent call's record to store with its charge (the reply, or
  // that it was too large to keep), built before the commit.
  std::function<ledger::StoredReply(const ledger::IdempotentCall&, const protocol::CallReply&)>
      stored_reply;
  // Set when the daemon shuts down: calls stop retrying and moving on.
  const std::atomic<bool>* stopping = nullptr;
  // Set when shutdown begins: a reservation refused after waiting ends the
  // call ("shutting down") instead of moving on.
  const std::atomic<bool>* draining = nullptr;
  // Calls alive (CallRun objects); the pool waits for none before it stops.
  LiveCalls* alive = nullptr;
  // Metrics (optional): every HTTP attempt that got an answer or failed,
  // with its provider and duration in seconds. Runs on the worker thread.
  std::function<void(const std::string& provider, double seconds)> on_attempt;
  // Metrics (optional): once per call, as it is answered, how its time
  // since the loop took it was spent (CallTimes). Worker thread.
  std::function<void(const CallTimes&)> on_times;
  // Publishes events outside any reply (optional): what a ledger answer
  // brings after its call was answered (the usage event and alerts of a
  // charge that outlived the call's deadline). Worker threads.
  std::function<void(std::vector<protocol::Event>)> publish;
  // Sends one part of a streamed call's reply (PROTOCOL.md section 9).
  // Worker threads.
  std::function<void(const CallSpec&, protocol::CallPartReply)> part;

  // Unix ms on the clock.
  int64_t now_ms() const { return clock->wall_ms(); }
};

struct CallSpec {
  uint64_t token = 0;
  protocol::RequestId id;
  protocol::CallRequest request;
  std::shared_ptr<const Config> config;
  int64_t received_ms = 0;                 // unix ms when the loop took it
  Clock::SteadyTime received;              // for latency_ms (env.clock)
  uint64_t reservation = 0;                // token upper bound
  // Set when the call holds an idempotency key: each reservation writes
  // its pending marker, the commit its stored reply (ledger.h).
  std::optional<ledger::IdempotentCall> idempotency;
  // Set when the call uses the response cache (call_cache.h): its key, as
  // the leader of that key (its successful reply is stored).
  std::string cache_key;
};

class CallRun : public std::enable_shared_from_this<CallRun> {
 public:
  CallRun(CallSpec spec, const CallEnvironment& env, CallLoop& worker);
  ~CallRun();
  void start();
  // Worker thread: ends the call with `why` (the `cancel` op, a streaming
  // client gone or too far behind). An HTTP attempt in flight is aborted
  // and charged as a cut stream; a reservation being made is released; the
  // answer (`why`, partial once parts were sent) follows the settlement. A
  // call already answered, or whose charge is being written, is left as is.
  void cancel(protocol::Error why);

 private:
  void plan();
  void next_step();
  void try_provider(const policy::PlanStep& step);
  void on_reserved(const protocol::Result<ledger::ReserveOutcome>& r);
  void count_input(const ledger::ReserveOutcome& refusal, HttpRequest count_request);
  void on_counted(const HttpResponse& response, const ledger::ReserveOutcome& refusal);
  void skip_for_budget(const ledger::ReserveOutcome& refusal);
  void skip_for_rate(const ledger::ReserveOutcome& refusal);
  bool last_in_chain(const std::string& provider) const;
  void send();
  void on_response(const HttpResponse& response);
  // Streamed attempts (call_run_stream.cpp).
  struct StreamAttempt;
  void on_stream_bytes(std::string_view bytes);
  void on_stream_end(const HttpResponse& response);
  void arm_idle_check(int64_t in_ms);
  void on_idle_check(TransferId transfer);
  // A stream that ended without the provider's final usage: the input it
  // reported (else the input bound) plus the output bound, or the usage
  // when it came before the cut.
  std::pair<uint64_t, uint64_t> cut_stream_charge() const;
  // The error a call ends with when its attempt failed after parts were
  // sent: partial.
  protocol::Error partial_error(const ProviderFailure& failure) const;
  // A served answer: its usage (or `if_no_usage` when it reported none) is
  // committed, with the reply made of it.
  void commit_answer(ProviderResult result, std::pair<uint64_t, uint64_t> if_no_usage);
  void on_committed(const protocol::Result<ledger::CommitOutcome>& r);
  // The provider's state after a failed attempt (circuit, rate, a key
  // rejected); nothing against it when the client cancelled the call.
  void record_failure(const ProviderFailure& failure, const HttpResponse& response);
  void attempt_failed(const ProviderFailure& failure, bool provider_may_have_served);
  // The attempt failed and is charged `charge` (input, output) as served.
  void charge_failed_attempt(const ProviderFailure& failure, std::pair<uint64_t, uint64_t> charge);
  void on_charged_in_full(const protocol::Result<ledger::CommitOutcome>& r);
  void on_released(const protocol::Result<ledger::ReleaseOutcome>& r);
  // A reservation made after the call was answered: released, unsent.
  void release_unsent(uint64_t reservation);
  // The usage event of the answer being committed (reply_).
  protocol::UsageEvent usage_event() const;
  // Events of a ledger answer that came after the call was answered.
  void publish_late(std::optional<protocol::UsageEvent> usage,
                    const std::vector<ledger::Alert>& alerts,
                    const std::optional<ledger::Rollover>& rollover);
  // The callback for a ledger operation (`what`: reserve, commit, release):
  // its answer runs `step` on this worker. While it is awaited, the call's
  // deadline holds: past it the call is answered `timeout`, and the step
  // still runs when the answer comes (done_ set: it only settles).
  template <class T>
  ledger::Callback<T> await_ledger(const char* what,
                                   void (CallRun::*step)(const protocol::Result<T>&));
  void arm_deadline(int64_t in_ms);
  void on_deadline();
  // Key rejected or out of credit: the provider is skipped until a reload.
  void mark_if_refused(const ProviderFailure& failure);
  void retry_or_move_on();
  void give_up_provider(const std::string& code, const std::string& message);
  void finish_error(protocol::Error error);
  static protocol::Error ledger_error(const protocol::Error& e);
  // Tells env_.on_times how the call's time was spent, the ledger answer
  // or HTTP attempt still awaited included (answered at its deadline).
  void report_times();
  // The reply to a served call, built before its commit (an idempotent
  // call's reply is stored in the commit's transaction).
  protocol::CallReply make_reply();
  void finish_ok();
  void add_ledger_events(const std::vector<ledger::Alert>& alerts,
                         const std::optional<ledger::Rollover>& rollover);
  // A charge of the whole reservation at current_ (amount_), as input and
  // output: the output bound is max_tokens, the rest is input.
  std::pair<uint64_t, uint64_t> full_charge() const;
  int64_t remaining_ms() const;
  double elapsed_ms() const;
  double attempt_ms() const;
  // The HTTP attempt just answered: counts its time (this provider's, the
  // call's provider waits, the attempt observer); returns it in ms.
  double end_attempt();
  void post(std::function<void(CallRun&)> step);

  CallSpec spec_;
  const CallEnvironment& env_;
  CallLoop& worker_;

  // The call, as sent to providers.
  ProviderCall call_;
  int64_t deadline_ms_ = 0;

  policy::Plan plan_;
  size_t step_ = 0;
  std::vector<policy::AttemptRecord> records_;
  std::vector<protocol::Event> events_;

  // The provider being tried.
  policy::PlanStep current_;
  const ProviderConfig* provider_ = nullptr;
  const ProviderAdapter* adapter_ = nullptr;  // of current_
  uint32_t attempts_ = 0;  // HTTP attempts at current_
  // Tokens each reservation at current_ holds: spec_.reservation, or less
  // once the provider counted the input (counted_).
  uint64_t amount_ = 0;
  bool counted_ = false;
  policy::Permit permit_;
  int64_t admitted_ms_ = 0;  // when permit_ and its rate slot were taken
  uint64_t reservation_id_ = 0;
  std::string period_;
  Clock::SteadyTime attempt_started_;
  ProviderFailure last_failure_;
  double provider_latency_ms_ = 0;  // this provider's attempts (reset per provider)
  double provider_waited_ms_ = 0;   // every attempt of the call

  // The answer being committed, and the reply made of it.
  ProviderReply reply_;
  double cost_usd_ = 0;
  protocol::CallReply answer_;
  bool done_ = false;  // answered (the reply went to the loop)

  // The HTTP request in flight (0: none), for cancel().
  TransferId transfer_ = 0;
  // The streamed attempt in flight (request.stream), and the parts sent so
  // far over all attempts: after the first, no retry and no fallback.
  std::unique_ptr<StreamAttempt> stream_;
  uint64_t parts_sent_ = 0;
  // Set by cancel(): the call ends with it once its attempt is settled.
  std::optional<protocol::Error> cancelled_;

  // The ledger operation awaited ("reserve", "commit", "release"), or null.
  const char* ledger_wait_ = nullptr;
  int64_t ledger_wait_since_ms_ = 0;  // when it was submitted (unix ms)
  // The call's time waiting for ledger answers: from each submission to
  // when its step runs on this worker (the writer's queue, the sync, the
  // post back), summed over the call's operations.
  Clock::SteadyTime ledger_wait_started_{};
  Clock::SteadyTime::duration ledger_waited_{};
  bool deadline_armed_ = false;       // a deadline timer is pending
};

// One streamed HTTP attempt: the bytes read so far, as events and parts.
struct CallRun::StreamAttempt {
  SseParser parser;
  StreamAccumulator accumulator;
  std::vector<SseEvent> events;  // scratch, per chunk of bytes
  std::vector<StreamPart> parts;  // scratch, per chunk of bytes
  Clock::SteadyTime last_bytes{};  // when the provider last sent bytes (or the request left)
  bool began = false;  // bytes of a 2xx answer came (only those reach on_stream_bytes)
  bool idle = false;   // ended by the idle timeout
};

}  // namespace tollgate::workers
