// RequestMetrics: what the server loop answers and publishes, counted into
// the daemon's Prometheus metrics (daemon/server/metrics.h): requests by op and
// code, errors by code, fallbacks by reason, calls in flight, call
// duration, alerts by level; requests also by transport.
//
// The loop hands it each final reply as it goes out, as a typed value
// (daemon/server/reply.h): the code (and a call's `reason`) is read from
// the value, so every path that answers (at once, from a worker, from the
// ledger writer, an idempotent replay) is counted the same way without
// each producer having to report it, and no reply is decoded to count it.
//
// Threads: any thread (the loop, and the HTTP listener for the status ops
// it answers itself); the metrics it updates are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "daemon/server/metrics.h"
#include "daemon/server/reply.h"
#include "protocol/events.h"

namespace tollgate {

// The op name counted for a request that could not be decoded.
inline constexpr std::string_view kInvalidOp = "invalid";

// The `transport` label: the ZeroMQ ROUTER, or the HTTP listener (its
// status endpoints and the POSTs it hands to the loop), so that dashboard
// polling can be told apart from producers' traffic.
inline constexpr std::string_view kZmqTransport = "zmq";
inline constexpr std::string_view kHttpTransport = "http";

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::DaemonMetrics& metrics) : m_(metrics) {}

  // A call whose reply will come later.
  void call_started() { m_.calls_in_flight.add(1); }
  // A reply went out on `transport` (kZmqTransport or kHttpTransport).
  // `was_pending`: call_started was counted for it. `seconds`: since the
  // request arrived.
  void replied(std::string_view transport, std::string_view op, const Reply& reply,
               double seconds, bool was_pending);
  void published(const protocol::Event& event);

 private:
  metrics::DaemonMetrics& m_;
};

}  // namespace tollgate
