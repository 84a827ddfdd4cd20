// HttpApi: the optional HTTP listener (TOLLGATE_HTTP, PROTOCOL.md section
// 7): a read-only JSON mirror of the status ops, two admin POSTs, the
// Prometheus metrics, health and readiness probes, and the dashboard page.
//
// DESIGN
// cpp-httplib runs its accept loop on a thread this object owns (joined by
// stop()) and answers on its own small thread pool. Nothing here touches a
// ZeroMQ socket:
// - GET /api/token-usage/... builds the same request map a ZeroMQ client
//   would send, decodes it with the protocol's decoder (same validation,
//   same error text), and answers it on the HTTP thread through the
//   StatusReader, i.e. LMDB read transactions and the providers' live state.
//   The reply is the op's reply value, written as JSON (the JSON of its
//   msgpack encoding, without encoding it: protocol/json_bridge.h).
// - POST test-ai-call and reset need the loop (the call service, the ledger
//   writer, the PUB socket for their events), so they are handed to it with
//   Server::submit and the HTTP thread waits for the reply (a typed value,
//   written as JSON here), bounded by the call's deadline. stop() releases every waiter with 503.
// - The admin POSTs need `Authorization: Bearer <TOLLGATE_HTTP_ADMIN_TOKEN>`:
//   401 without it or with another token, 403 when no token is configured.
//
// - /v1/* is the provider-compatible ingress (daemon/server/ingress.h),
//   authenticated by agent keys rather than the admin token.
//
// Threads: construct, set_config and stop from any one thread (the loop
// thread in tollgated); the handlers run on httplib's threads and read the
// configuration through a snapshot taken under config_mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "daemon/core/config.h"
#include "daemon/core/sync.h"
#include "daemon/core/endpoint.h"
#include "daemon/server/metrics.h"
#include "daemon/server/request_metrics.h"
#include "daemon/server/server.h"
#include "daemon/server/status_reader.h"
#include "protocol/codec.h"
#include "protocol/error.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tollgate {

class Ingress;

// The content type of every JSON body the listener sends.
inline constexpr const char* kJsonContentType = "application/json";
// How long an HTTP request that runs a call waits for the loop beyond the
// call's own deadline.
inline constexpr int64_t kHttpLoopMarginMs = 10'000;

class HttpApi {
 public:
  struct Deps {
    const StatusReader* status = nullptr;
    Server* server = nullptr;                 // submit() only
    const metrics::Registry* metrics = nullptr;
    // Optional: counts the status ops answered here, as the loop counts its
    // own (the POSTs are counted by the loop).
    RequestMetrics* requests = nullptr;
    // Readiness: nullopt when ready, else why not (one line).
    std::function<std::optional<std::string>()> not_ready;
  };

  // Binds `address` (port 0: an ephemeral port) and starts serving.
  static protocol::Result<std::unique_ptr<HttpApi>> start(const HttpAddress& address,
                                                          std::shared_ptr<const Config> config,
                                                          Deps deps);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // "HOST:PORT" as bound.
  const std::string& bound() const { return bound_; }
  // A reload's configuration (budgets, agents, admin token) for the handlers.
  void set_config(std::shared_ptr<const Config> config);
  // The configuration the handlers use now (any thread).
  std::shared_ptr<const Config> config() const;
  // Stops accepting, answers every waiting POST with 503, joins the threads.
  void stop();

 private:
  struct Waiter;
  HttpApi(std::shared_ptr<const Config> config, Deps deps);
  void routes();

  void status_op(const httplib::Request& req, httplib::Response& res, const std::string& op,
                 const std::string& ai_name, const std::set<std::string>& params);
  void admin_op(const httplib::Request& req, httplib::Response& res, const std::string& op,
                const std::string& ai_name);
  bool authorized(const httplib::Request& req, httplib::Response& res) const;
  // The request decoded with the start-up limits (as the ZeroMQ side uses:
  // a reload does not change them); nullopt after answering the error.
  std::optional<protocol::DecodedRequest> decode(const std::string& request,
                                                 httplib::Response& res) const;
  // Runs a request map on the loop and waits for its reply.
  void run_on_loop(const std::string& request, httplib::Response& res);

  Deps deps_;
  const protocol::DecodeLimits limits_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<Ingress> ingress_;
  std::string bound_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};  // set by thread_ when listening ends

  mutable Mutex config_mu_;
  std::shared_ptr<const Config> config_ GUARDED_BY(config_mu_);

  Mutex waiters_mu_;
  std::set<std::shared_ptr<Waiter>> waiters_ GUARDED_BY(waiters_mu_);
  bool stopped_ GUARDED_BY(waiters_mu_) = false;
  std::atomic<uint64_t> next_id_{1};
};

// HTTP status for a protocol error code (PROTOCOL.md section 3), e.g.
// bad_request 400, unknown_agent 404, rate_limited 429, timeout 504.
int http_status_for(std::string_view code);

// The methods a path of the listener takes ("GET, HEAD", "POST", "PUT"),
// "" for no such path (http_paths.cpp).
std::string http_allowed_methods(std::string_view path);

}  // namespace tollgate
