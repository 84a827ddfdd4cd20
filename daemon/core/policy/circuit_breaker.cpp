#include "daemon/core/policy/circuit_breaker.h"

#include <utility>

namespace tollgate::policy {

std::string_view circuit_state_name(CircuitState state) {
  switch (state) {
    case CircuitState::kClosed: return "closed";
    case CircuitState::kOpen: return "open";
    case CircuitState::kHalfOpen: return "half_open";
  }
  return "closed";
}

bool counts_toward_circuit(int http_status) { return http_status < 400 || http_status >= 500; }

CircuitBreaker::CircuitBreaker(CircuitSettings settings) : settings_(settings) {}

uint32_t CircuitBreaker::threshold() const {
  return settings_.failure_threshold == 0 ? 1 : settings_.failure_threshold;
}

CircuitTransition CircuitBreaker::move_to(CircuitState to, int64_t now_ms, std::string reason) {
  CircuitTransition t{state_, to, std::move(reason), now_ms};
  state_ = to;
  ++generation_;
  probe_out_ = false;
  if (to == CircuitState::kOpen) open_until_ms_ = now_ms + settings_.open_ms;
  if (to == CircuitState::kClosed) failures_ = 0;
  return t;
}

Permit CircuitBreaker::allow(int64_t now_ms) {
  switch (state_) {
    case CircuitState::kClosed:
      return Permit{true, false, generation_, std::nullopt};
    case CircuitState::kOpen: {
      if (now_ms < open_until_ms_) return Permit{};
      auto t = move_to(CircuitState::kHalfOpen, now_ms, "open period elapsed; probing with one call");
      probe_out_ = true;
      return Permit{true, true, generation_, std::move(t)};
    }
    case CircuitState::kHalfOpen:
      if (probe_out_) return Permit{};
      probe_out_ = true;
      return Permit{true, true, generation_, std::nullopt};
  }
  return Permit{};
}

bool CircuitBreaker::would_allow(int64_t now_ms) const {
  switch (state_) {
    case CircuitState::kClosed: return true;
    case CircuitState::kOpen: return now_ms >= open_until_ms_;
    case CircuitState::kHalfOpen: return !probe_out_;
  }
  return false;
}

std::optional<CircuitTransition> CircuitBreaker::record_success(int64_t now_ms,
                                                                const Permit& permit) {
  if (!permit.allowed || permit.generation != generation_) return std::nullopt;
  if (state_ == CircuitState::kHalfOpen && permit.probe) {
    return move_to(CircuitState::kClosed, now_ms, "probe call succeeded");
  }
  if (state_ == CircuitState::kClosed) failures_ = 0;
  return std::nullopt;
}

std::optional<CircuitTransition> CircuitBreaker::record_failure(int64_t now_ms,
                                                                const Permit& permit) {
  if (!permit.allowed || permit.generation != generation_) return std::nullopt;
  if (state_ == CircuitState::kHalfOpen && permit.probe) {
    return move_to(CircuitState::kOpen, now_ms, "probe call failed");
  }
  if (state_ != CircuitState::kClosed) return std::nullopt;
  ++failures_;
  if (failures_ < threshold()) return std::nullopt;
  return move_to(CircuitState::kOpen, now_ms,
                 std::to_string(failures_) + " consecutive failures");
}

void CircuitBreaker::abandon(const Permit& permit) {
  if (permit.allowed && permit.probe && permit.generation == generation_ &&
      state_ == CircuitState::kHalfOpen) {
    probe_out_ = false;
  }
}

CircuitState CircuitBreaker::state(int64_t now_ms) const {
  if (state_ == CircuitState::kOpen && now_ms >= open_until_ms_) return CircuitState::kHalfOpen;
  return state_;
}

std::optional<int64_t> CircuitBreaker::reopen_at_ms() const {
  if (state_ != CircuitState::kOpen) return std::nullopt;
  return open_until_ms_;
}

}  // namespace tollgate::policy
