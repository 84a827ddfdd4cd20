// CurlTransport: many concurrent HTTP(S) requests on one libcurl multi
// handle, driven by the loop of the thread that owns it (a Worker). It owns
// no thread: the loop calls perform() to move transfers along (starting
// queued ones, reading and writing sockets, running the callbacks of those
// that finished), then wait() to block in epoll_wait until a socket curl
// watches is ready, a curl timer is due, the loop's own timeout passes, or
// another thread calls wakeup() (it has posted the loop a task). So an HTTP
// answer is handled on the thread that asked for it.
//
// Threads: everything but wakeup() and pending() on the driving thread;
// the Transport callbacks run there, from perform() or stop().
//
// Guarantee (transport.h): every submitted request gets exactly one
// on_done: with the response, with a transport error (timeout, refused,
// response over the size cap), or with "shutting down" when stop() (or the
// destructor) aborts it; a submit() after stop() gets "shutting down" with
// request_sent false at the next perform(). request_sent is true only for a
// transfer of which curl reports bytes sent (CURLINFO_REQUEST_SIZE > 0).
//
// Connections: HTTP/1.1, kept alive in the multi handle's connection cache
// and reused across transfers; HTTPS verified against the system CA bundle.
// curl_global_init is called once per process by the first CurlTransport
// constructed (a function-local static); curl_global_cleanup is never called.
//
// Ownership: the transport owns the multi handle and all easy handles;
// requests and callbacks are moved in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "workers/providers/transport.h"

namespace tollgate::workers {

struct CurlTransportOptions {
  long max_connections = 128;       // CURLMOPT_MAXCONNECTS: idle connections kept
  long max_host_connections = 64;   // per host; more transfers wait for a free one; 0 = unlimited
  // Transfers handed to libcurl at once; the rest wait in the transport's
  // own queue without an easy handle, so a burst of queued calls costs
  // little memory. Their total timeout still counts from submit().
  size_t max_active_transfers = 256;
  std::string user_agent = "tollgate/" TOLLGATE_VERSION;
};

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options = {});
  ~CurlTransport() override;  // stop(), then the last callbacks
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Queues the request; the next perform() starts it.
  TransferId submit(HttpRequest request, HttpRequestOptions options, ChunkCallback on_chunk,
                    DoneCallback on_done) override;
  // Applied at the next perform() (which runs its on_done).
  void cancel(TransferId id, std::string reason) override;

  // One step of the driving loop: starts queued transfers (up to
  // max_active_transfers), lets curl read and write, and runs the
  // callbacks of every transfer that ended.
  void perform();
  // Blocks until a socket is ready, a curl timer is due, wakeup() is
  // called, or timeout_ms passes (0: only looks). Only looks when a
  // perform() is already due (ready()). The loop calls it between
  // perform()s: perform() drives the sockets that the last wait() saw ready.
  void wait(int timeout_ms);
  // Any thread: ends the current or next wait() early.
  void wakeup();
  // Something for perform() to do now, without waiting for a socket: a
  // queued transfer that may start, an ended one to report, a cancel.
  bool ready() const;
  // Nothing submitted is still waiting for its on_done.
  bool idle() const;

  // Aborts queued and in-flight transfers (each on_done gets "shutting
  // down"); every later submit() gets "shutting down" too. Idempotent.
  void stop();

  // Any thread: submitted requests whose on_done has not run yet.
  size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tollgate::workers
