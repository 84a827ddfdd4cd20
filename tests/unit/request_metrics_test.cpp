// RequestMetrics: what the loop counts from each typed reply, and the HTTP
// status each protocol error code maps to.
#include <catch2/catch.hpp>

#include "daemon/server/http_api.h"
#include "daemon/server/request_metrics.h"
#include "protocol/codec.h"

using namespace tollgate;

namespace {

Reply call_ok(const std::string& reason) {
  protocol::CallReply r;
  r.provider = "openai";
  r.reason = reason;
  return r;
}

Reply error(const protocol::Error& e) { return e; }

}  // namespace

TEST_CASE("the code and reason of a reply are read from its value") {
  const Reply ok = call_ok("fallback_threshold");
  CHECK(ok.code() == "ok");
  CHECK(ok.reason() == "fallback_threshold");
  const Reply refused = error(protocol::Error::rate_limited("slow down", 1500));
  CHECK(refused.code() == "rate_limited");
  CHECK(refused.reason().empty());
  CHECK(Reply(protocol::PingReply{}).code() == "ok");
  CHECK(Reply(protocol::PingReply{}).reason().empty());
}

TEST_CASE("replies are counted by op code and transport with fallbacks errors and calls in flight") {
  metrics::Registry registry;
  auto m = metrics::register_daemon_metrics(registry);
  RequestMetrics counts(m);
  counts.call_started();
  counts.call_started();
  CHECK(m.calls_in_flight.value() == 2);
  counts.replied(kZmqTransport, "call", call_ok("fallback_threshold"), 0.2, true);
  counts.replied(kZmqTransport, "call", call_ok("primary"), 0.1, true);
  counts.replied(kZmqTransport, "call", error(protocol::Error::budget_exhausted("both_exhausted")), 0.0, false);
  counts.replied(kZmqTransport, "usage", error(protocol::Error::unknown_agent("x")), 0.0, false);
  CHECK(m.calls_in_flight.value() == 0);
  counts.replied(kHttpTransport, "usage", error(protocol::Error::unknown_agent("y")), 0.0, false);
  CHECK(m.requests.with({"call", "ok", "zmq"}).value() == 2);
  CHECK(m.requests.with({"call", "budget_exhausted", "zmq"}).value() == 1);
  CHECK(m.requests.with({"usage", "unknown_agent", "zmq"}).value() == 1);
  CHECK(m.requests.with({"usage", "unknown_agent", "http"}).value() == 1);
  CHECK(m.errors.with({"budget_exhausted"}).value() == 1);
  CHECK(m.errors.with({"unknown_agent"}).value() == 2);
  CHECK(m.fallbacks.with({"fallback_threshold"}).value() == 1);
  CHECK(m.call_duration.cumulative_counts().back() == 3);
  CHECK(m.call_duration.sum() == Approx(0.3));

  protocol::AlertEvent alert;
  alert.level = "critical";
  counts.published(alert);
  CHECK(m.alerts.with({"critical"}).value() == 1);
}

TEST_CASE("each protocol error code maps to an HTTP status") {
  CHECK(http_status_for("bad_request") == 400);
  CHECK(http_status_for("unknown_op") == 404);
  CHECK(http_status_for("unknown_agent") == 404);
  CHECK(http_status_for("too_large") == 413);
  CHECK(http_status_for("unauthorized") == 403);
  CHECK(http_status_for("rate_limited") == 429);
  CHECK(http_status_for("overloaded") == 503);
  CHECK(http_status_for("ledger_unavailable") == 503);
  CHECK(http_status_for("timeout") == 504);
  CHECK(http_status_for("provider_error") == 502);
  CHECK(http_status_for("internal") == 500);
  CHECK(http_status_for("no_such_code") == 500);
}
