// Ingress: the provider-compatible endpoints on the HTTP listener
// (PROTOCOL.md section 11): POST /v1/chat/completions (OpenAI),
// POST /v1/messages (Anthropic), GET /v1/models.
//
// DESIGN
// Each request is authenticated by an agent key (daemon/server/agent_keys.h),
// read with the provider formats' own readers (ingress_format.h), turned
// into a `call` for the key's agent, checked by the protocol decoder (the
// same validation and limits as over ZeroMQ) and handed to the loop with
// Server::submit: the same selection, budgets, fallback, idempotency,
// events and metrics (transport "http") as any call. The HTTP thread waits
// on an Exchange that the loop fills: the streamed parts and the final
// reply. A non-streamed request answers the final reply in the endpoint's
// format. A streamed one waits for its first part (so that an error before
// it, a refusal or a budget, is an ordinary HTTP error with its status)
// and then writes server-sent events (ingress_sse.h) as parts arrive, and
// a ping after a second without one. When the client is gone a write
// fails (at the latest the second ping); the stream then asks the loop to
// cancel the call (Server::cancel_submitted), and a part that still comes
// finds the exchange gone (LocalPart returns false, which cuts the stream
// too). The call is charged as a cut stream (section 9).
//
// At most TOLLGATE_HTTP_MAX_CALLS calls run at once; more are answered
// overloaded (503; Anthropic 529) at once.
//
// Threads: create and stop on one thread; reload on the loop thread
// (SIGHUP); the handlers run on httplib's threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "daemon/core/config.h"
#include "daemon/core/sync.h"
#include "daemon/server/agent_keys.h"
#include "daemon/server/ingress_format.h"
#include "daemon/server/server.h"
#include "protocol/codec.h"

namespace httplib {
class ContentReader;
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tollgate {

class Ingress {
 public:
  struct Deps {
    Server* server = nullptr;  // submit() only
    std::function<std::shared_ptr<const Config>()> config;
    protocol::DecodeLimits limits;
  };

  // Reads TOLLGATE_AGENT_KEYS_FILE; its error names the file and line.
  static protocol::Result<std::unique_ptr<Ingress>> create(Deps deps, const Config& config);
  Ingress(const Ingress&) = delete;
  Ingress& operator=(const Ingress&) = delete;

  void install(httplib::Server& http);
  // SIGHUP: re-reads the keys file; a file that no longer reads keeps the
  // keys in use (logged at error).
  void reload(const Config& config);
  // Answers every waiting request 503 and ends every stream.
  void stop();
  // "GET, HEAD", "POST", or "" when `path` is not an ingress path.
  static std::string allowed_methods(std::string_view path);
  // httplib's own refusals under /v1/ (a body over TOLLGATE_MAX_REQUEST_BYTES,
  // an unknown path, a request it could not read) in the endpoint's error
  // format, so that an SDK raises its own exception class.
  static void answer_unrouted(const httplib::Request& req, httplib::Response& res);

 private:
  struct Exchange;
  struct StreamState;
  struct Agent {
    std::string ai_name;
    std::string who;
    std::vector<std::string> models;
  };
  Ingress(Deps deps, std::shared_ptr<const AgentKeys> keys);

  void serve(ingress::Dialect dialect, const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader& reader);
  // The whole body, or nullopt after answering (too large, too slow).
  std::optional<std::string> read_body(ingress::Dialect dialect, const httplib::ContentReader& reader,
                                       httplib::Response& res) const;
  void models(const httplib::Request& req, httplib::Response& res);
  std::optional<Agent> authenticate(ingress::Dialect dialect, const httplib::Request& req,
                                    httplib::Response& res) const;
  // The call checked by the protocol decoder, or nullopt after answering.
  std::optional<protocol::CallRequest> prepare(ingress::Dialect dialect, const Agent& agent,
                                               const httplib::Request& req, const std::string& body,
                                               httplib::Response& res, ingress::ClientRequest& read) const;
  std::shared_ptr<Exchange> submit(const Agent& agent, protocol::CallRequest call);
  void answer(ingress::Dialect dialect, const ingress::ClientRequest& read,
              std::shared_ptr<Exchange> exchange, std::shared_ptr<void> slot, httplib::Response& res);
  void stream(ingress::Dialect dialect, const ingress::ClientRequest& read,
              std::shared_ptr<Exchange> exchange, std::shared_ptr<void> slot, httplib::Response& res);
  // The events to write next: waits a slice for parts, or the end.
  static std::string next_events(Exchange& exchange, StreamState& state);
  void forget(const std::shared_ptr<Exchange>& exchange);
  std::string response_id(ingress::Dialect dialect);

  Deps deps_;
  mutable Mutex keys_mu_;
  std::shared_ptr<const AgentKeys> keys_ GUARDED_BY(keys_mu_);
  std::shared_ptr<std::atomic<uint64_t>> active_ = std::make_shared<std::atomic<uint64_t>>(0);

  Mutex exchanges_mu_;
  std::set<std::shared_ptr<Exchange>> exchanges_ GUARDED_BY(exchanges_mu_);
  bool stopped_ GUARDED_BY(exchanges_mu_) = false;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace tollgate
