// The in-process ZAP handler (ZeroMQ RFC 27) that decides which CurveZMQ
// clients may complete the handshake with tollgated's ROUTER and PUB
// sockets, and the socket setup that puts those sockets behind it.
//
// DESIGN
// libzmq asks "inproc://zeromq.zap.01" in the socket's own context about
// every handshake. ZapHandler binds a REP socket there and answers on its
// own thread: 200 with User-Id "admin" or "client" for a listed key (the
// server reads the role back from each request's "User-Id" metadata), 400
// for an unknown key or a non-CURVE mechanism (logged at warn with the key
// abbreviated and the peer address).
//
// Fail closed: make_curve_server() sets ZMQ_ZAP_ENFORCE_DOMAIN, so when no
// handler is bound libzmq refuses the handshake instead of letting every
// key in (its default "Stonehouse" behaviour). While the handler object
// lives its socket stays bound, so a handler thread that died leaves
// handshakes waiting (and timing out), never accepted.
//
// Threads: start(), stop() and the destructor run on the owner's thread
// (the server loop); the answering thread touches only the REP socket and
// its end of the stop pair. Create the handler before make_curve_server()
// and bind() of the sockets it guards, on the same zmq context.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include <zmq.hpp>

#include "daemon/server/curve_keys.h"
#include "protocol/error.h"

namespace tollgate::curve {

// The ZAP domain of tollgated's server sockets; the handler refuses others.
inline constexpr const char* kZapDomain = "tollgate";

// Makes `socket` a CURVE server with `key` whose handshakes go to the ZAP
// handler (domain kZapDomain, enforced). Call before bind(). An error when
// libzmq refuses an option (then the socket must not be bound).
protocol::Result<void> make_curve_server(zmq::socket_t& socket, const ServerKey& key);

class ZapHandler {
 public:
  // Binds the ZAP endpoint on `context` and starts answering. An error when
  // another handler is already bound in this context.
  static protocol::Result<std::unique_ptr<ZapHandler>> start(zmq::context_t& context,
                                                             ClientList clients);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Stops the thread and unbinds the ZAP endpoint; from then on every
  // handshake on the guarded sockets fails. Idempotent.
  void stop();

 private:
  ZapHandler(zmq::context_t& context, ClientList clients);
  // Handler thread.
  void serve();
  void answer_one();
  void log_refusal(const std::string& what, const std::string& address);

  // Constant after construction; read by the handler thread.
  const ClientList clients_;
  // Used by the handler thread only (until stop() joined it).
  zmq::socket_t zap_;
  zmq::socket_t stop_rx_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_refusal_log_;
  // Owner thread only.
  zmq::socket_t stop_tx_;
  std::jthread thread_;
};

}  // namespace tollgate::curve
