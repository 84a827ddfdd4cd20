// Checks on ZeroMQ endpoints from the configuration. Pure.
#pragma once

#include <string>

#include "protocol/error.h"

namespace tollgate {

// True for ipc:// and inproc:// endpoints and for tcp:// endpoints whose host
// is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_endpoint(const std::string& endpoint);

// Rewrites a tcp:// endpoint with port 0 to ZeroMQ's ephemeral-port form
// ("tcp://127.0.0.1:0" -> "tcp://127.0.0.1:*"); other endpoints unchanged.
std::string zmq_bind_form(const std::string& endpoint);

// The bind policy of PROTOCOL.md section 6: without CurveZMQ, refuse a
// non-loopback endpoint unless allow_insecure is set. `variable` names the
// setting in the error.
protocol::Result<void> check_bind_allowed(const std::string& variable, const std::string& endpoint,
                                          bool curve_enabled, bool allow_insecure);

}  // namespace tollgate
