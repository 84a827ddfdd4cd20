// ProviderRuntime: the live, in-memory state of each provider that the
// ledger does not hold: its circuit breaker, its request-rate windows (per
// minute, and per UTC day seeded from the ledger's day counter at start),
// and whether it refused this daemon (key rejected, account out of credit;
// PROTOCOL.md section 3, rule 3): then it is skipped until a reload.
//
// Shared by the worker threads (admit/record around every HTTP attempt) and
// the loop (status ops): every method takes mu_. The decisions themselves
// are the pure policy types; this class only keeps them and the clock value
// comes in from the caller.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/config.h"
#include "daemon/core/ledger_types.h"
#include "daemon/core/policy/circuit_breaker.h"
#include "daemon/core/policy/rate_window.h"
#include "daemon/core/policy/selection.h"
#include "daemon/core/sync.h"
#include "protocol/events.h"
#include "protocol/replies.h"

namespace tollgate {

class ProviderRuntime {
 public:
  // day_counts: requests already sent today per provider (ledger).
  ProviderRuntime(const Config& config, const std::map<std::string, uint64_t>& day_counts,
                  int64_t now_ms);

  // SIGHUP: new limits and circuit settings; circuits and rate windows are
  // kept, providers marked unusable are usable again (new keys, new credit).
  void reconfigure(const Config& config);

  // What selection needs of each provider now (does not take the probe).
  struct View {
    policy::RateDecision rate;
    bool circuit_allows = true;
    std::optional<policy::Skip> unusable;  // set by mark_unusable
  };
  View view(const std::string& provider, int64_t now_ms) const;

  // Just before an HTTP attempt: takes a circuit permit and a rate slot.
  struct Admission {
    bool allowed = false;
    policy::Reason refused_for = policy::Reason::kFallbackCircuitOpen;  // when refused
    std::string detail;
    std::optional<int64_t> retry_after_ms;
    policy::Permit permit;
    std::vector<protocol::ProviderEvent> events;  // circuit transitions
  };
  Admission admit(const std::string& provider, int64_t now_ms);

  // The attempt's result. http_status 0 for a transport failure. A failure
  // counts toward the circuit only when policy::counts_toward_circuit says
  // so (never a 4xx).
  std::vector<protocol::ProviderEvent> record(const std::string& provider,
                                              const policy::Permit& permit, bool success,
                                              int http_status, int64_t now_ms);
  // An admitted attempt that ended without an answer to judge (cancelled
  // by its client): its circuit permit is given back.
  void abandon(const std::string& provider, const policy::Permit& permit);
  // An admitted attempt that was never sent (its reservation was refused
  // or failed): the permit, and the rate slot and day count that admit()
  // took at admitted_ms, are given back.
  void unsent(const std::string& provider, const policy::Permit& permit, int64_t admitted_ms);

  // The ledger's day counter of the provider after a reservation at about
  // now_ms: it counts every daemon sharing the ledger, so this daemon's own
  // count (checked first, and shown by provider_status) catches up.
  void note_day_count(const std::string& provider, int64_t now_ms, uint64_t count);

  // The provider rejected its key or said the account is out of credit:
  // selection skips it (with `why`) until the next reconfigure().
  void mark_unusable(const std::string& provider, policy::Skip why);

  // provider_status's per-provider part (usage fields left for the caller).
  protocol::ProviderState state(const std::string& provider, int64_t now_ms) const;

 private:
  struct Entry {
    policy::CircuitBreaker breaker;
    policy::RateWindow window;
    int64_t day = 0;          // UTC day number of day_count
    uint64_t day_count = 0;   // requests sent that day
    std::optional<policy::Skip> unusable;
    bool configured = false;
  };

  void roll_day(Entry& e, int64_t now_ms) const REQUIRES(mu_);
  static std::vector<protocol::ProviderEvent> events_for(const std::string& provider,
                                                         const std::optional<policy::CircuitTransition>& t);

  mutable Mutex mu_;
  mutable std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace tollgate
