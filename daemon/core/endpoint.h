// Checks on ZeroMQ endpoints from the configuration. Pure, except that
// zmq_bind_problem asks the system whether a name is a network interface.
#pragma once

#include <optional>
#include <string>

#include "protocol/error.h"

namespace tollgate {

// True for ipc:// and inproc:// endpoints and for tcp:// endpoints whose host
// is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_endpoint(const std::string& endpoint);

// Why ZeroMQ could not bind `endpoint`, or nullopt. A tcp:// endpoint
// must be tcp://ADDRESS:PORT where ADDRESS is an IPv4 address, an IPv6
// address in brackets, `*` or the name of a network interface of this host
// (ZeroMQ binds do not resolve host names: "localhost" fails with "No such
// device") and PORT is 0-65535 or `*`; ipc:// and inproc:// need a name.
std::optional<std::string> zmq_bind_problem(const std::string& endpoint);

// True for a tcp:// endpoint with a bracketed (IPv6) address: its socket
// needs ZMQ_IPV6.
bool is_ipv6_endpoint(const std::string& endpoint);

// Rewrites a tcp:// endpoint with port 0 to ZeroMQ's ephemeral-port form
// ("tcp://127.0.0.1:0" -> "tcp://127.0.0.1:*"); other endpoints unchanged.
std::string zmq_bind_form(const std::string& endpoint);

// The bind policy of PROTOCOL.md section 6: without CurveZMQ, refuse a
// non-loopback endpoint unless allow_insecure is set. `variable` names the
// setting in the error.
protocol::Result<void> check_bind_allowed(const std::string& variable, const std::string& endpoint,
                                          bool curve_enabled, bool allow_insecure);

// TOLLGATE_HTTP: "HOST:PORT" ("[::1]:PORT" for IPv6), or "off".
struct HttpAddress {
  std::string host;  // without brackets
  int port = 0;      // 0: an ephemeral port
};
// nullopt for "off"; bad_request naming TOLLGATE_HTTP when malformed.
protocol::Result<std::optional<HttpAddress>> parse_http_address(const std::string& value);

// The HTTP listener serves plain HTTP: a non-loopback host needs
// TOLLGATE_ALLOW_INSECURE_BIND, whatever the CurveZMQ keys.
protocol::Result<void> check_http_bind_allowed(const HttpAddress& address, bool allow_insecure);

}  // namespace tollgate
