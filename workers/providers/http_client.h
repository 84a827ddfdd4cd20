// HttpClient: many concurrent HTTP(S) requests on one libcurl multi handle,
// driven by one thread that the client owns.
//
// Threads: submit() and stop() may be called from any thread. Completion
// callbacks run ON THE CLIENT'S THREAD and must be cheap (hand the response
// to another queue; never block or call submit() in a way that waits on the
// client). A callback that throws is logged and otherwise ignored.
//
// Guarantee: every submitted callback is invoked exactly once — with the
// response, with a transport error (timeout, refused, response over the size
// cap), or with the error "shutting down" when stop() or the destructor
// aborts it. A submit() after stop() invokes its callback immediately on the
// calling thread with "shutting down" and request_sent false. request_sent
// is true only for a transfer of which curl reports bytes sent
// (CURLINFO_REQUEST_SIZE > 0).
//
// Connections: HTTP/1.1, kept alive in the multi handle's connection cache
// and reused across transfers; HTTPS verified against the system CA bundle.
// curl_global_init is called once per process by the first HttpClient
// constructed (std::call_once); curl_global_cleanup is never called.
//
// Ownership: the client owns its thread, the multi handle and all easy
// handles; requests and callbacks are moved in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "workers/providers/provider_types.h"

namespace tollgate::workers {

struct HttpRequestOptions {
  int64_t connect_timeout_ms = 10'000;
  int64_t total_timeout_ms = 120'000;  // includes time queued for a connection
  size_t max_response_bytes = 8 * 1024 * 1024;  // over it: error "response over N bytes"
};

struct HttpClientOptions {
  long max_connections = 128;       // CURLMOPT_MAXCONNECTS: idle connections kept
  long max_host_connections = 64;   // per host; more transfers wait for a free one; 0 = unlimited
  // Transfers handed to libcurl at once; the rest wait in the client's own
  // queue without an easy handle, so a burst of queued calls costs little
  // memory. Their total timeout still counts from submit().
  size_t max_active_transfers = 256;
  std::string user_agent = "tollgate/" TOLLGATE_VERSION;
};

using HttpCallback = std::function<void(HttpResponse)>;

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();  // stop()
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Queues the request and wakes the client thread.
  void submit(HttpRequest request, HttpRequestOptions options, HttpCallback callback);

  // Aborts queued and in-flight transfers (each callback gets "shutting
  // down"), then joins the thread. Idempotent.
  void stop();

  // Transfers submitted whose callback has not run yet.
  size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::workers
