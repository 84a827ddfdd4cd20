#include "daemon/endpoint.h"

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

}  // namespace

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

}  // namespace tollgate
