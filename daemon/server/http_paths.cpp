// The paths of the HTTP listener and the methods each takes (for 405 and
// Allow before a body is read; http_api.cpp registers the handlers).
#include <set>
#include <string>
#include <string_view>

#include "daemon/server/http_api.h"
#include "daemon/server/ingress.h"

namespace tollgate {

// The methods a path takes ("GET, HEAD" or "POST"); "" for no such path.
// Mirrors the routes HttpApi::routes() registers.
std::string http_allowed_methods(std::string_view path) {
  static const std::set<std::string_view> kGetPaths = {
      "/", "/healthz", "/readyz", "/metrics", "/index.html", "/app.js", "/style.css"};
  static const std::set<std::string_view> kApiGet = {
      "summary", "emergency-status", "provider-status", "alerts", "ledger-events",
      "limits",  "forecast",         "daily"};
  static const std::set<std::string_view> kApiGetWithName = {
      "provider-status", "ai", "recommend", "history", "forecast", "daily"};
  if (kGetPaths.count(path)) return "GET, HEAD";
  if (auto methods = Ingress::allowed_methods(path); !methods.empty()) return methods;
  constexpr std::string_view kPrefix = "/api/token-usage/";
  if (!path.starts_with(kPrefix)) return "";
  std::string_view rest = path.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  const std::string_view head = rest.substr(0, slash);
  if (slash == std::string_view::npos) {
    if (kApiGet.count(head)) return "GET, HEAD";
    return head == "test-ai-call" ? "POST" : "";
  }
  const std::string_view name = rest.substr(slash + 1);
  if (name.empty() || name.find('/') != std::string_view::npos) return "";
  if (kApiGetWithName.count(head)) return "GET, HEAD";
  if (head == "limits") return "PUT";
  return head == "reset" ? "POST" : "";
}

}  // namespace tollgate
