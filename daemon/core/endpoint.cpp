#include "daemon/core/endpoint.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cctype>

namespace tollgate {
namespace {

// "tcp://HOST:PORT" -> HOST (brackets kept for IPv6), or "" for non-tcp.
std::string tcp_host(const std::string& endpoint) {
  const std::string prefix = "tcp://";
  if (endpoint.rfind(prefix, 0) != 0) return {};
  std::string rest = endpoint.substr(prefix.size());
  // A ZeroMQ tcp endpoint may name a source interface: "src;dst".
  if (auto semi = rest.find(';'); semi != std::string::npos) rest = rest.substr(semi + 1);
  auto colon = rest.rfind(':');
  return colon == std::string::npos ? rest : rest.substr(0, colon);
}

bool is_port(const std::string& port) {
  if (port == "*") return true;
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  return std::stoi(port) <= 65535;
}

}  // namespace

std::optional<std::string> zmq_bind_problem(const std::string& endpoint) {
  const std::string kForms = "must be a ZeroMQ endpoint: tcp://ADDRESS:PORT or ipc://PATH";
  for (const char* scheme : {"ipc://", "inproc://"}) {
    if (endpoint.rfind(scheme, 0) == 0) {
      if (endpoint.size() == std::string(scheme).size()) return kForms + " (the path is missing)";
      return std::nullopt;
    }
  }
  if (endpoint.rfind("tcp://", 0) != 0) return kForms;
  const std::string rest = endpoint.substr(6);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || (rest.find(']') != std::string::npos && colon < rest.find(']'))) {
    return "needs a port: tcp://ADDRESS:PORT (e.g. tcp://127.0.0.1:5555; port 0 or * picks a free one)";
  }
  const std::string host = rest.substr(0, colon);
  if (!is_port(rest.substr(colon + 1))) return "the port must be a number from 0 to 65535, or *";
  if (host == "*") return std::nullopt;
  unsigned char addr[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), addr) == 1) return std::nullopt;
    return "'" + host + "' is not an IPv6 address";
  }
  if (inet_pton(AF_INET, host.c_str(), addr) == 1) return std::nullopt;
  if (!host.empty() && host.find_first_of("[]") == std::string::npos && if_nametoindex(host.c_str()) != 0) {
    return std::nullopt;  // an interface name, e.g. "lo"
  }
  return "'" + host + "' is not an IP address, * or a network interface of this host; ZeroMQ binds to " +
         "addresses, not host names (for localhost use 127.0.0.1)";
}

bool is_ipv6_endpoint(const std::string& endpoint) {
  return endpoint.rfind("tcp://[", 0) == 0;
}

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  std::string host = tcp_host(endpoint);
  return host == "localhost" || host == "[::1]" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string zmq_bind_form(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) == 0 && endpoint.size() > 2 &&
      endpoint.compare(endpoint.size() - 2, 2, ":0") == 0) {
    return endpoint.substr(0, endpoint.size() - 1) + "*";
  }
  return endpoint;
}

protocol::Result<void> check_bind_allowed(const std::string& variable, const std::string& endpoint,
                                          bool curve_enabled, bool allow_insecure) {
  if (curve_enabled || allow_insecure || is_loopback_endpoint(endpoint)) return {};
  return protocol::Error::bad_request(
      variable + "=" + endpoint +
      ": refusing a non-loopback bind without CurveZMQ keys "
      "(set TOLLGATE_CURVE_SECRET_KEY_FILE, or TOLLGATE_ALLOW_INSECURE_BIND=1 to allow it)");
}

protocol::Result<std::optional<HttpAddress>> parse_http_address(const std::string& value) {
  if (value == "off") return std::optional<HttpAddress>{};
  auto bad = [&](const std::string& why) {
    return protocol::Error::bad_request("TOLLGATE_HTTP=" + value + ": " + why);
  };
  const auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("must be HOST:PORT (e.g. 127.0.0.1:4000) or off");
  HttpAddress a;
  a.host = value.substr(0, colon);
  if (a.host.front() == '[') {
    if (a.host.size() < 3 || a.host.back() != ']') return bad("an IPv6 host must be in brackets, e.g. [::1]:4000");
    a.host = a.host.substr(1, a.host.size() - 2);
  } else if (a.host.find(':') != std::string::npos) {
    return bad("an IPv6 host must be in brackets, e.g. [::1]:4000");
  }
  const std::string port = value.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  a.port = std::stoi(port);
  return std::optional<HttpAddress>{a};
}

protocol::Result<void> check_http_bind_allowed(const HttpAddress& address, bool allow_insecure) {
  const std::string& h = address.host;
  if (allow_insecure || h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0) return {};
  return protocol::Error::bad_request(
      "TOLLGATE_HTTP=" + h + ":" + std::to_string(address.port) +
      ": refusing a non-loopback bind for the plain-HTTP listener "
      "(set TOLLGATE_ALLOW_INSECURE_BIND=1 to allow it, or TOLLGATE_HTTP=off)");
}

}  // namespace tollgate
