// RemoteRepeats: idempotent repeats whose first call runs on another
// tollgated of a cluster (PROTOCOL.md section 12). With a shared ledger a
// repeat can find the first call's pending marker while no call with that
// key runs here; instead of answering it as cut short by a crash, it waits
// for the first call's outcome: the ledger record is read again every
// kRemotePollMs on a call loop (never on the server's loop thread), until
//  - the reply is stored: the repeat gets it (replayed);
//  - the marker is gone (the first call failed and is not remembered): the
//    repeat gets provider_error saying to repeat it, which runs it again;
//  - the marker has had no open reservation for a whole grace period (a
//    lease: its daemon died, its lease expired and was settled in full):
//    the repeat is answered as after a crash (`internal`);
//  - the repeat's own deadline: `timeout` while the first still runs.
//
// Threads: wait() and cancel() from the loop thread; the polls run on the
// call loop given to wait(); answers go to the CallSink from there.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "daemon/core/clock.h"
#include "daemon/core/sync.h"
#include "daemon/ledger/ledger.h"
#include "daemon/server/call_sink.h"
#include "workers/calls/call_loop.h"
#include "workers/calls/live_calls.h"

namespace tollgate::workers {

inline constexpr int64_t kRemotePollMs = 50;

class RemoteRepeats {
 public:
  // `alive` counts each waiting repeat (the pool's destructor waits for
  // them); `stopping` set: a poll answers at once (shutdown).
  RemoteRepeats(ledger::Ledger& ledger, CallSink& sink, const Clock& clock, LiveCalls& alive,
                const std::atomic<bool>& stopping)
      : ledger_(ledger), sink_(sink), clock_(clock), alive_(alive), stopping_(stopping) {}

  // `token` waits for the outcome of the first call of `call`'s key; the
  // answer when none is needed yet comes through the sink.
  void wait(uint64_t token, ledger::IdempotentCall call, int64_t deadline_ms, int64_t grace_ms,
            CallLoop& loop);
  // True when `token` was waiting here: it is answered `why` now.
  bool cancel(uint64_t token, const protocol::Error& why);

 private:
  struct Waiter {
    ledger::IdempotentCall call;
    int64_t deadline_ms = 0;
    int64_t grace_ms = 0;
    uint64_t reservation = 1;   // the marker's reservation at the last poll (0: none open)
    int64_t unreserved_since = 0;  // when it was last seen without one
  };
  void schedule(uint64_t token, CallLoop& loop);
  void poll(uint64_t token, CallLoop& loop);
  // The answer for the waiter at `now` from the record, if it is known.
  std::optional<CallResult> decide(Waiter& w, int64_t now);
  // Removes the waiter; false when it was answered already (cancelled).
  bool take(uint64_t token);

  ledger::Ledger& ledger_;
  CallSink& sink_;
  const Clock& clock_;
  LiveCalls& alive_;
  const std::atomic<bool>& stopping_;
  Mutex mu_;
  std::unordered_map<uint64_t, Waiter> waiting_ GUARDED_BY(mu_);
};

}  // namespace tollgate::workers
