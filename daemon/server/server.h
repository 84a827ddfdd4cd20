// The server loop: the one owner of the ROUTER (requests) and PUB (events)
// sockets.
//
// DESIGN
// One thread (the daemon's main thread) runs Server::run(), which reads like
// redis's aeMain: poll the ROUTER, the mailbox and the signal fd;
// drain each until it would block; run due timers; repeat. ZeroMQ sockets
// are not thread-safe, so nothing else touches ROUTER or PUB: work that takes
// time (provider calls) runs elsewhere and hands its reply (and any events)
// back through the Mailbox, tagged with the token the loop gave it.
// Replies stay typed (daemon/server/reply.h) until they leave: the loop
// encodes each once, as it sends it (PendingRequests, ReplyEdge). A request
// may get reply parts before its final reply (LoopMessage::last).
//
// Envelopes follow PROTOCOL.md section 1: every frame up to and including
// the first empty frame is the routing envelope (for a DEALER that sends no
// empty frame, just the identity); exactly one body frame must follow. The
// reply carries back the same envelope and one body frame.
//
// Access control (PROTOCOL.md section 6): with CurveZMQ keys configured,
// both sockets are CURVE servers behind the in-process ZAP handler the
// Server owns (daemon/server/zap_handler.h), and each request's role comes from
// the ZAP "User-Id" metadata of its body frame, never from the body.
// Without keys every request has the admin role.
//
// Thread: every method runs on the loop thread except mailbox() and
// call_sink(), which any thread may use, and submit().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "daemon/core/config.h"
#include "daemon/server/curve_keys.h"
#include "daemon/server/mailbox.h"
#include "daemon/server/mailbox_sink.h"
#include "daemon/server/pending_requests.h"
#include "daemon/server/signals.h"
#include "protocol/codec.h"

namespace tollgate {

namespace curve {
class ZapHandler;
}
class RequestMetrics;

// Answers decoded requests for the loop. handle() returns the reply when
// it is ready now, or nullopt when it will arrive later through the
// Mailbox under the same token. `role` is what the client's CurveZMQ key
// allows (kAdmin when CurveZMQ is off).
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual std::optional<Reply> handle(uint64_t token, const protocol::RequestId& id,
                                      protocol::RequestBody& body, const curve::Caller& caller) = 0;
  // Ends a `call` still running under `token` (see CallService::cancel).
  virtual void cancel(uint64_t token, protocol::Error why) { (void)token, (void)why; }
  // Called about every 100 ms from the loop (housekeeping, timers).
  virtual void tick() {}
  // SIGHUP.
  virtual void reload() {}
  // After the loop published an event that came through the Mailbox.
  virtual void published(const protocol::Event&) {}
};

// Publishes events on the PUB socket, numbering them (PROTOCOL.md seq),
// and counts each into the metrics when they are set. Loop thread only.
class EventPublisher {
 public:
  explicit EventPublisher(zmq::socket_t& pub) : pub_(pub) {}
  void publish(const protocol::Event& event);
  uint64_t last_seq() const { return seq_; }
  void set_metrics(RequestMetrics* metrics) { metrics_ = metrics; }

 private:
  zmq::socket_t& pub_;
  RequestMetrics* metrics_ = nullptr;
  uint64_t seq_ = 0;
};

class Server : private ReplyEdge {
 public:
  struct Endpoints {
    std::string requests;  // as bound (ephemeral ports resolved)
    std::string events;
  };

  // Reads the CurveZMQ key files named in `config` (if any), starts the ZAP
  // handler on `context` and binds both sockets; an error names the
  // setting (and file line) and the reason.
  // `clock` times replies for the metrics.
  static protocol::Result<std::unique_ptr<Server>> create(
      zmq::context_t& context, const Config& config,
      const Clock& clock = SystemClock::instance());
  ~Server() override;

  const Endpoints& endpoints() const { return endpoints_; }
  Mailbox& mailbox() { return mailbox_; }
  // Where the call code reports its outcomes (posts to the mailbox).
  CallSink& call_sink() { return call_sink_; }
  EventPublisher& events() { return *events_; }
  void set_handler(RequestHandler* handler) { handler_ = handler; }
  // Optional: counts every reply and event (loop thread).
  void set_metrics(RequestMetrics* metrics) {
    pending_.set_metrics(metrics);
    events_->set_metrics(metrics);
  }

  // Any thread: runs a decoded request on the loop as if a client with
  // `role` had sent it; `done` gets the final reply on the loop thread (at
  // once, or when an async reply arrives); `parts`, when given, gets each
  // part of a streamed reply before it (loop thread; returning false cuts
  // the stream and cancels the call). This is how the HTTP
  // listener runs the ops that need the loop (call, reset) without touching
  // a socket. A request submitted after the loop stopped is never run: the
  // submitter must not wait forever.
  void submit(protocol::RequestId id, protocol::RequestBody body, curve::Caller caller,
              LocalReply done, LocalPart parts = {});

  // Any thread: ends the `call` a local submitter has open under `id` (its
  // client went away), as the `cancel` op does; nothing when none is.
  void cancel_submitted(protocol::RequestId id, protocol::Error why);

  // Runs until a stop signal; then stops taking requests and returns.
  void run(SignalSource& signals);
  // One loop iteration: waits at most `timeout` for work. Returns false once
  // a stop was requested.
  bool step(std::chrono::milliseconds timeout, SignalSource* signals);
  void request_stop() { stopping_ = true; }
  // After a stop: stops reading requests and runs the loop until every
  // pending reply went out or `limit` passed.
  void drain(std::chrono::milliseconds limit);

  // Number of requests whose reply is still owed (async ones).
  size_t pending() const { return pending_.size(); }
  // True when both sockets are CurveZMQ servers.
  bool curve_enabled() const { return zap_ != nullptr; }

 private:
  Server(zmq::context_t& context, const Config& config, const Clock& clock);

  void drain_requests();
  void handle_message(std::vector<zmq::message_t>& frames);
  // Runs a decoded request: answers it at once or keeps it open.
  void dispatch(const protocol::RequestId& id, protocol::RequestBody& body, const curve::Caller& caller,
                OpenRequest request);
  void drain_mailbox();
  // ReplyEdge: encodes the reply (once) and sends it to a ROUTER client, or
  // hands a final reply to a local submitter.
  bool send(const OpenRequest& to, const Reply& reply, bool last) override;
  // False when the ROUTER could not queue it (the client is gone or its
  // send queue is full): it is dropped.
  bool send_reply(const std::vector<zmq::message_t>& envelope, const std::string& body);
  // The `cancel` op (PROTOCOL.md section 9): only a call of the same client.
  Reply cancel(const protocol::CancelRequest& r, const OpenRequest& request);
  // Starts the ZAP handler and makes both sockets CURVE servers (unbound).
  protocol::Result<void> secure(zmq::context_t& context, curve::CurveKeys keys);
  curve::Caller caller_of(const zmq::message_t& body_frame) const;

  // Constant after construction.
  const protocol::DecodeLimits limits_;
  const Clock& clock_;
  Endpoints endpoints_;

  // Declared before the sockets so that it outlives them: the handler
  // stops only after the sockets it guards are closed.
  std::unique_ptr<curve::ZapHandler> zap_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  Mailbox mailbox_;
  MailboxCallSink call_sink_{mailbox_};
  std::unique_ptr<EventPublisher> events_;
  RequestHandler* handler_ = nullptr;

  uint64_t next_token_ = 1;
  PendingRequests pending_;
  bool stopping_ = false;
};

}  // namespace tollgate
