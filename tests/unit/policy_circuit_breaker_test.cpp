#include <catch2/catch.hpp>

#include "daemon/core/policy/circuit_breaker.h"

using tollgate::policy::CircuitBreaker;
using tollgate::policy::CircuitSettings;
using tollgate::policy::CircuitState;
using tollgate::policy::Permit;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

// Lets one call through at now_ms and records its failure.
std::optional<tollgate::policy::CircuitTransition> fail_once(CircuitBreaker& b, int64_t now_ms) {
  Permit p = b.allow(now_ms);
  REQUIRE(p.allowed);
  return b.record_failure(now_ms, p);
}

// Opens a default breaker at kT0 with five failures.
CircuitBreaker opened_breaker() {
  CircuitBreaker b;
  for (int i = 0; i < 5; ++i) (void)fail_once(b, kT0);
  return b;
}

}  // namespace

TEST_CASE("a new circuit is closed and admits calls") {
  CircuitBreaker b;
  CHECK(b.state(kT0) == CircuitState::kClosed);
  Permit p = b.allow(kT0);
  CHECK(p.allowed);
  CHECK_FALSE(p.probe);
  CHECK_FALSE(p.transition.has_value());
}

TEST_CASE("the circuit stays closed after one failure fewer than the threshold") {
  CircuitBreaker b;
  for (int i = 0; i < 4; ++i) CHECK_FALSE(fail_once(b, kT0 + i).has_value());
  CHECK(b.state(kT0 + 10) == CircuitState::kClosed);
  CHECK(b.consecutive_failures() == 4);
  CHECK(b.allow(kT0 + 10).allowed);
}

TEST_CASE("the fifth consecutive failure opens the circuit and reports the transition") {
  CircuitBreaker b;
  for (int i = 0; i < 4; ++i) (void)fail_once(b, kT0);
  auto t = fail_once(b, kT0 + 7);
  REQUIRE(t.has_value());
  CHECK(t->from == CircuitState::kClosed);
  CHECK(t->to == CircuitState::kOpen);
  CHECK(t->at_ms == kT0 + 7);
  CHECK(t->reason.find("5 consecutive failures") != std::string::npos);
  CHECK(b.state(kT0 + 7) == CircuitState::kOpen);
  CHECK(b.reopen_at_ms() == kT0 + 7 + 30000);
}

TEST_CASE("a success in between resets the consecutive failure count") {
  CircuitBreaker b;
  for (int i = 0; i < 4; ++i) (void)fail_once(b, kT0);
  Permit p = b.allow(kT0);
  CHECK_FALSE(b.record_success(kT0, p).has_value());
  CHECK(b.consecutive_failures() == 0);
  for (int i = 0; i < 4; ++i) CHECK_FALSE(fail_once(b, kT0).has_value());
  CHECK(b.state(kT0) == CircuitState::kClosed);
}

TEST_CASE("an open circuit refuses calls until the open period has passed") {
  CircuitBreaker b = opened_breaker();
  CHECK_FALSE(b.allow(kT0).allowed);
  CHECK_FALSE(b.allow(kT0 + 29999).allowed);
  CHECK_FALSE(b.would_allow(kT0 + 29999));
  CHECK(b.state(kT0 + 29999) == CircuitState::kOpen);
}

TEST_CASE("after the open period exactly one probe is admitted") {
  CircuitBreaker b = opened_breaker();
  Permit probe = b.allow(kT0 + 30000);
  CHECK(probe.allowed);
  CHECK(probe.probe);
  REQUIRE(probe.transition.has_value());
  CHECK(probe.transition->from == CircuitState::kOpen);
  CHECK(probe.transition->to == CircuitState::kHalfOpen);
  CHECK(b.state(kT0 + 30000) == CircuitState::kHalfOpen);
  for (int i = 1; i <= 3; ++i) CHECK_FALSE(b.allow(kT0 + 30000 + i * 1000).allowed);
  CHECK_FALSE(b.would_allow(kT0 + 40000));
}

TEST_CASE("a successful probe closes the circuit") {
  CircuitBreaker b = opened_breaker();
  Permit probe = b.allow(kT0 + 31000);
  auto t = b.record_success(kT0 + 31500, probe);
  REQUIRE(t.has_value());
  CHECK(t->from == CircuitState::kHalfOpen);
  CHECK(t->to == CircuitState::kClosed);
  CHECK(b.state(kT0 + 31500) == CircuitState::kClosed);
  CHECK(b.consecutive_failures() == 0);
  CHECK(b.allow(kT0 + 31501).allowed);
  CHECK(b.allow(kT0 + 31502).allowed);
}

TEST_CASE("a failed probe reopens the circuit for the full open period") {
  CircuitBreaker b = opened_breaker();
  Permit probe = b.allow(kT0 + 30000);
  auto t = b.record_failure(kT0 + 32000, probe);
  REQUIRE(t.has_value());
  CHECK(t->from == CircuitState::kHalfOpen);
  CHECK(t->to == CircuitState::kOpen);
  CHECK_FALSE(b.allow(kT0 + 32000 + 29999).allowed);
  Permit next = b.allow(kT0 + 32000 + 30000);
  CHECK(next.allowed);
  CHECK(next.probe);
}

TEST_CASE("a 429 does not count toward the circuit") {
  // The worker's rule: record_failure only when counts_toward_circuit.
  CircuitBreaker b;
  auto attempt = [&](int status, int64_t now) {
    Permit p = b.allow(now);
    REQUIRE(p.allowed);
    if (tollgate::policy::counts_toward_circuit(status)) (void)b.record_failure(now, p);
  };
  for (int i = 0; i < 4; ++i) attempt(503, kT0);
  for (int i = 0; i < 20; ++i) attempt(429, kT0);
  CHECK(b.state(kT0) == CircuitState::kClosed);
  attempt(0, kT0);  // connection error: counts
  CHECK(b.state(kT0) == CircuitState::kOpen);
}

TEST_CASE("failures that say the provider is unwell count toward the circuit") {
  using tollgate::policy::counts_toward_circuit;
  for (int status : {500, 502, 503, 504, 529, 501, 599}) {
    INFO(status);
    CHECK(counts_toward_circuit(status));
  }
  CHECK(counts_toward_circuit(0));    // connection error or transfer timeout
  CHECK(counts_toward_circuit(200));  // a 2xx the provider's format does not explain
}

TEST_CASE("no 4xx answer counts toward the circuit") {
  using tollgate::policy::counts_toward_circuit;
  // About the request or the account: one client must not open the
  // circuit for every agent.
  for (int status : {400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 499}) {
    INFO(status);
    CHECK_FALSE(counts_toward_circuit(status));
  }
}

TEST_CASE("any number of 400s between server errors leaves the circuit closed") {
  CircuitBreaker b;
  auto attempt = [&](int status) {
    Permit p = b.allow(kT0);
    REQUIRE(p.allowed);
    if (tollgate::policy::counts_toward_circuit(status)) {
      (void)b.record_failure(kT0, p);
    } else {
      b.abandon(p);
    }
  };
  for (int i = 0; i < 4; ++i) attempt(503);
  for (int i = 0; i < 50; ++i) attempt(400);
  CHECK(b.state(kT0) == CircuitState::kClosed);
  CHECK(b.consecutive_failures() == 4);
}

TEST_CASE("results of calls admitted before the circuit opened are ignored") {
  CircuitBreaker b;
  Permit slow = b.allow(kT0);
  for (int i = 0; i < 5; ++i) (void)fail_once(b, kT0);
  Permit probe = b.allow(kT0 + 30000);
  REQUIRE(probe.probe);
  CHECK_FALSE(b.record_success(kT0 + 30001, slow).has_value());
  CHECK(b.state(kT0 + 30001) == CircuitState::kHalfOpen);
  CHECK_FALSE(b.record_failure(kT0 + 30002, slow).has_value());
  CHECK(b.state(kT0 + 30002) == CircuitState::kHalfOpen);
  CHECK(b.record_success(kT0 + 30003, probe).has_value());
}

TEST_CASE("an abandoned probe lets the next caller probe") {
  CircuitBreaker b = opened_breaker();
  Permit probe = b.allow(kT0 + 30000);
  CHECK_FALSE(b.allow(kT0 + 30001).allowed);
  b.abandon(probe);
  CHECK(b.would_allow(kT0 + 30002));
  Permit again = b.allow(kT0 + 30002);
  CHECK(again.allowed);
  CHECK(again.probe);
  CHECK_FALSE(again.transition.has_value());
}

TEST_CASE("would_allow does not claim the probe") {
  CircuitBreaker b = opened_breaker();
  CHECK(b.would_allow(kT0 + 30000));
  CHECK(b.would_allow(kT0 + 30000));
  CHECK(b.state(kT0 + 30000) == CircuitState::kHalfOpen);
  CHECK(b.allow(kT0 + 30000).probe);
}

TEST_CASE("custom failure count and open period are honoured") {
  CircuitBreaker b(CircuitSettings{3, 5000});
  CHECK_FALSE(fail_once(b, kT0).has_value());
  CHECK_FALSE(fail_once(b, kT0).has_value());
  CHECK(fail_once(b, kT0).has_value());
  CHECK_FALSE(b.allow(kT0 + 4999).allowed);
  CHECK(b.allow(kT0 + 5000).allowed);
}

TEST_CASE("circuit states have their wire names") {
  using tollgate::policy::circuit_state_name;
  CHECK(circuit_state_name(CircuitState::kClosed) == "closed");
  CHECK(circuit_state_name(CircuitState::kOpen) == "open");
  CHECK(circuit_state_name(CircuitState::kHalfOpen) == "half_open");
}
