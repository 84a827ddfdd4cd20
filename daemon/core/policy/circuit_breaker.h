// Per-provider circuit breaker: a small value-type state machine.
//
// States: closed (calls flow), open (calls refused until open_ms has
// passed), half_open (exactly one probe call is let through; its result
// decides). PROTOCOL.md section 3 rule 3: TOLLGATE_CIRCUIT_FAILURES (5)
// consecutive failed attempts open the circuit for
// TOLLGATE_CIRCUIT_OPEN_SECONDS (30); then one probe decides.
//
// What counts as a failure is the caller's decision, made before calling
// record_failure: a failed HTTP attempt that says the provider is unwell
// (5xx, 529, connection error, transfer timeout, an unparseable 2xx) and
// never a 4xx answer. A 4xx is about the request or the account (400 bad
// request, 401/403 key rejected, 429 slow down, out of credit), and one
// client's bad requests must not open the circuit for every agent; so the
// caller records neither a failure nor a success for it (abandon()) and the
// consecutive-failure count is left as it was. A request that never
// reached the provider (reservation refused, local rate limit) records
// nothing either; give back an unused probe with abandon().
//
// Every call goes through a Permit from allow(). The permit carries the
// breaker's generation: results of calls admitted before a state change
// are stale and ignored, so a slow call that was let in while closed can
// neither close a half-open circuit nor fail its probe.
//
// No clock reads: every method takes now_ms (unix ms). Not thread-safe; the
// owner (one per provider) guards it with its own mutex. Transitions are
// returned so the owner can publish `provider.<name>` events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tollgate::policy {

enum class CircuitState { kClosed, kOpen, kHalfOpen };

// The caller's rule (PROTOCOL.md section 3, rule 3): status is the HTTP
// status of a failed attempt, or 0 when there was no HTTP response
// (connection error, transfer timeout). True for everything but a 4xx;
// only then does the caller call record_failure, and for a 4xx it records
// nothing.
bool counts_toward_circuit(int http_status);

// The wire name used by provider_status and provider.<name> events:
// "closed", "open", "half_open".
std::string_view circuit_state_name(CircuitState state);

struct CircuitSettings {
  uint32_t failure_threshold = 5;  // consecutive failures that open it; 0 is treated as 1
  int64_t open_ms = 30000;         // how long it stays open before a probe
};

struct CircuitTransition {
  CircuitState from = CircuitState::kClosed;
  CircuitState to = CircuitState::kClosed;
  std::string reason;  // one line for the event body, e.g. "5 consecutive failures"
  int64_t at_ms = 0;
};

// The answer of allow(). A refused permit must not be passed to record_*.
struct Permit {
  bool allowed = false;
  bool probe = false;       // this call is the half-open probe
  uint64_t generation = 0;  // breaker generation it was issued in
  std::optional<CircuitTransition> transition;  // open -> half_open, when this call caused it
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(CircuitSettings settings = {});

  // Admits a call or refuses it. In open state past open_ms this moves to
  // half_open and admits the caller as the one probe; while the probe is
  // out every other caller is refused.
  Permit allow(int64_t now_ms);

  // Whether allow(now_ms) would admit a call, without claiming the probe.
  // Selection plans with this; the worker then calls allow() just before
  // the request and treats a refusal as a fallback_circuit_open skip.
  bool would_allow(int64_t now_ms) const;

  // Results of a call admitted with `permit`. Stale permits are ignored.
  // A success closes a half-open circuit and resets the failure count; a
  // failure of the probe reopens it for open_ms; in closed state the
  // failure_threshold-th consecutive failure opens it.
  std::optional<CircuitTransition> record_success(int64_t now_ms, const Permit& permit);
  std::optional<CircuitTransition> record_failure(int64_t now_ms, const Permit& permit);

  // The admitted call was never made (e.g. the ledger refused the
  // reservation): a probe goes back so the next caller may probe.
  void abandon(const Permit& permit);

  // For status display: an open circuit whose open period has elapsed
  // shows as half_open (the next call will be the probe).
  CircuitState state(int64_t now_ms) const;
  uint32_t consecutive_failures() const { return failures_; }
  // When an open circuit admits its probe; nullopt unless open.
  std::optional<int64_t> reopen_at_ms() const;

  // SIGHUP reload: new numbers apply from the next transition.
  void set_settings(CircuitSettings settings) { settings_ = settings; }
  const CircuitSettings& settings() const { return settings_; }

 private:
  CircuitTransition move_to(CircuitState to, int64_t now_ms, std::string reason);
  uint32_t threshold() const;

  CircuitSettings settings_;
  CircuitState state_ = CircuitState::kClosed;
  uint32_t failures_ = 0;       // consecutive counted failures while closed
  int64_t open_until_ms_ = 0;   // valid while open
  bool probe_out_ = false;      // valid while half_open
  uint64_t generation_ = 0;     // bumped on every transition
};

}  // namespace tollgate::policy
