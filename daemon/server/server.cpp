#include "daemon/server/server.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "daemon/core/endpoint.h"
#include "daemon/core/request_id_format.h"
#include "daemon/server/request_metrics.h"
#include "daemon/server/zap_handler.h"

namespace tollgate {

using protocol::Error;

namespace {

constexpr int64_t kMaxFrameBytes = 16 << 20;  // larger frames drop the peer
constexpr size_t kMaxFramesPerMessage = 64;

std::string last_endpoint(zmq::socket_t& s) { return s.get(zmq::sockopt::last_endpoint); }

// The agent a request names, or "-", for the trace log.
std::string agent_of(const protocol::RequestBody& body) {
  return std::visit(
      [](const auto& r) -> std::string {
        if constexpr (requires { r.ai_name.value_or(""); }) {
          return r.ai_name.value_or("-");
        } else if constexpr (requires { r.ai_name.empty(); }) {
          return r.ai_name;
        } else {
          return "-";
        }
      },
      body);
}

}  // namespace

void EventPublisher::publish(const protocol::Event& event) {
  auto encoded = protocol::encode_event(event, ++seq_);
  // PUB never blocks: a subscriber at its high-water mark just misses this
  // event and sees a gap in seq.
  pub_.send(zmq::buffer(encoded.topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  pub_.send(zmq::buffer(encoded.body), zmq::send_flags::dontwait);
  if (metrics_) metrics_->published(event);
}

Server::Server(zmq::context_t& context, const Config& config, const Clock& clock)
    : limits_{config.max_request_bytes, config.max_tokens_per_request},
      clock_(clock),
      router_(context, zmq::socket_type::router),
      pub_(context, zmq::socket_type::pub),
      pending_(*this, clock) {
  router_.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  router_.set(zmq::sockopt::linger, 0);
  // A reply the ROUTER cannot queue (client gone, or its queue of
  // ZMQ_SNDHWM messages full) fails the send instead of vanishing: a
  // streamed call whose part cannot go out is cut and cancelled.
  router_.set(zmq::sockopt::router_mandatory, true);
  router_.set(zmq::sockopt::rcvhwm, 100000);
  router_.set(zmq::sockopt::sndhwm, static_cast<int>(config.replies_hwm));
  pub_.set(zmq::sockopt::linger, 0);
  pub_.set(zmq::sockopt::sndhwm, static_cast<int>(config.events_hwm));
  if (config.events_sndbuf > 0) pub_.set(zmq::sockopt::sndbuf, static_cast<int>(config.events_sndbuf));
  events_ = std::make_unique<EventPublisher>(pub_);
}

Server::~Server() = default;

protocol::Result<std::unique_ptr<Server>> Server::create(zmq::context_t& context,
                                                         const Config& config,
                                                         const Clock& clock) {
  auto keys = curve::load_curve_keys(config.curve_secret_key_file, config.curve_clients_file);
  if (!keys) return keys.error();
  const bool curve = keys->has_value();
  for (const auto& [name, ep] : {std::pair{"TOLLGATE_LISTEN", config.listen},
                                 std::pair{"TOLLGATE_EVENTS", config.events}}) {
    if (auto r = check_bind_allowed(name, ep, curve, config.allow_insecure_bind); !r) return r.error();
  }
  std::unique_ptr<Server> s(new Server(context, config, clock));
  // The ZAP handler must be bound before the sockets it guards are bound.
  if (curve) {
    if (auto r = s->secure(context, std::move(**keys)); !r) return r.error();
  }
  auto bind = [](zmq::socket_t& sock, const std::string& name, const std::string& ep) -> protocol::Result<std::string> {
    try {
      if (is_ipv6_endpoint(ep)) sock.set(zmq::sockopt::ipv6, true);
      sock.bind(zmq_bind_form(ep));
    } catch (const zmq::error_t& e) {
      return Error::bad_request(name + "=" + ep + ": cannot bind: " + e.what());
    }
    return last_endpoint(sock);
  };
  auto req = bind(s->router_, "TOLLGATE_LISTEN", config.listen);
  if (!req) return req.error();
  auto ev = bind(s->pub_, "TOLLGATE_EVENTS", config.events);
  if (!ev) return ev.error();
  s->endpoints_ = {*req, *ev};
  return s;
}

protocol::Result<void> Server::secure(zmq::context_t& context, curve::CurveKeys keys) {
  size_t admins = 0;
  for (const auto& [key, role] : keys.clients.keys) admins += role == curve::ClientRole::kAdmin;
  const size_t clients = keys.clients.keys.size();
  auto zap = curve::ZapHandler::start(context, std::move(keys.clients));
  if (!zap) return zap.error();
  zap_ = std::move(*zap);
  for (auto* sock : {&router_, &pub_}) {
    if (auto r = curve::make_curve_server(*sock, keys.server); !r) return r;
  }
  spdlog::info("CurveZMQ on: server key {}, {} client keys ({} admin)",
               curve::abbreviate_key(keys.server.public_z85), clients, admins);
  return {};
}

curve::Caller Server::caller_of(const zmq::message_t& body_frame) const {
  if (!zap_) return curve::Caller{curve::ClientRole::kAdmin, "local"};
  // Set by libzmq from the ZAP handler's reply for this connection; absent
  // only if something bypassed the handler, which must not grant admin.
  const char* user_id = zmq_msg_gets(body_frame.handle(), "User-Id");
  const char* key = zmq_msg_gets(body_frame.handle(), curve::kKeyProperty);
  return curve::Caller{user_id ? curve::role_from_user_id(user_id) : curve::ClientRole::kClient,
                       key ? "curve:" + std::string(key) : std::string("curve")};
}

void Server::run(SignalSource& signals) {
  while (step(std::chrono::milliseconds(100), &signals)) {
  }
}

bool Server::step(std::chrono::milliseconds timeout, SignalSource* signals) {
  std::vector<zmq::pollitem_t> items = {
      {router_.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, mailbox_.fd(), ZMQ_POLLIN, 0},
  };
  if (signals) items.push_back({nullptr, signals->fd(), ZMQ_POLLIN, 0});
  try {
    zmq::poll(items.data(), items.size(), timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
  }
  if (items[0].revents & ZMQ_POLLIN) drain_requests();
  if (items[1].revents & ZMQ_POLLIN) drain_mailbox();
  if (signals && (items[2].revents & ZMQ_POLLIN)) {
    for (auto ev = signals->read(); ev != SignalEvent::kNone; ev = signals->read()) {
      if (ev == SignalEvent::kStop) {
        spdlog::info("stop requested; no longer taking requests");
        stopping_ = true;
      } else if (handler_) {
        spdlog::info("SIGHUP: reloading");
        handler_->reload();
      }
    }
  }
  if (handler_) handler_->tick();
  return !stopping_;
}

void Server::drain(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  if (!pending_.empty()) spdlog::info("waiting for {} calls in flight", pending_.size());
  while (!pending_.empty() && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item{nullptr, mailbox_.fd(), ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (item.revents & ZMQ_POLLIN) drain_mailbox();
  }
  if (!pending_.empty()) spdlog::warn("{} calls still in flight at shutdown", pending_.size());
}

void Server::drain_requests() {
  // Bounded, so the mailbox and signals are never starved by a flood.
  for (int n = 0; n < 4096; ++n) {
    std::vector<zmq::message_t> frames;
    bool overflow = false;
    while (true) {
      zmq::message_t m;
      auto got = router_.recv(m, zmq::recv_flags::dontwait);
      if (!got) {
        if (frames.empty()) return;
        break;  // cannot happen mid-message: multipart arrives atomically
      }
      bool more = m.more();
      if (frames.size() < kMaxFramesPerMessage) frames.push_back(std::move(m));
      else overflow = true;
      if (!more) break;
    }
    if (overflow) {
      // Keep the envelope (first frame) and answer bad_request.
      frames.resize(2);
      frames[1] = zmq::message_t();
      spdlog::debug("request with more than {} frames", kMaxFramesPerMessage);
    }
    handle_message(frames);
  }
}

void Server::handle_message(std::vector<zmq::message_t>& frames) {
  // Envelope: up to and including the first empty frame; else the identity.
  size_t envelope = 1;
  for (size_t i = 1; i < frames.size(); ++i) {
    if (frames[i].size() == 0) {
      envelope = i + 1;
      break;
    }
  }
  const size_t body_frames = frames.size() - envelope;
  OpenRequest request;
  request.started = clock_.steady_now();
  frames.swap(request.from.envelope);
  // The reply goes back over the first `envelope` frames.
  auto refuse = [&](const protocol::RequestId& id, const Error& e) {
    request.from.envelope.resize(envelope);
    request.id = id;
    pending_.answer(request, e);
  };
  if (body_frames != 1) {
    refuse({}, Error::bad_request(body_frames == 0
                                      ? "request has no body frame"
                                      : "request must have exactly one body frame after the envelope"));
    return;
  }
  const auto& body_frame = request.from.envelope[envelope];
  std::string_view body(static_cast<const char*>(body_frame.data()), body_frame.size());
  if (body.empty()) {
    refuse({}, Error::bad_request("request body frame is empty"));
    return;
  }
  auto decoded = protocol::decode_request(body, limits_);
  if (!decoded.body) {
    refuse(decoded.id, decoded.body.error());
    return;
  }
  const curve::Caller caller = caller_of(body_frame);
  request.from.envelope.resize(envelope);
  dispatch(decoded.id, *decoded.body, caller, std::move(request));
}

void Server::dispatch(const protocol::RequestId& id, protocol::RequestBody& body,
                      const curve::Caller& caller, OpenRequest request) {
  request.id = id;
  request.op = protocol::op_name(body);
  // Per-request detail at trace only; never the prompt.
  spdlog::trace("request {}: decoded op {} ai_name {} via {}", id, request.op,
                agent_of(body), request.from.is_local() ? "http" : "zmq");
  if (const auto* cancel_request = std::get_if<protocol::CancelRequest>(&body)) {
    pending_.answer(request, cancel(*cancel_request, request));
    return;
  }
  const uint64_t token = next_token_++;
  std::optional<Reply> reply;
  if (handler_) {
    reply = handler_->handle(token, id, body, caller);
  } else {
    reply = Reply(Error::internal("no handler"));
  }
  if (reply) {
    pending_.answer(request, *reply);
    return;
  }
  pending_.park(token, std::move(request));
}

Reply Server::cancel(const protocol::CancelRequest& r, const OpenRequest& request) {
  std::optional<uint64_t> token;
  if (!request.from.is_local() && !request.from.envelope.empty()) {
    token = pending_.find_call(request.from.envelope.front(), r.target);
  }
  spdlog::debug("cancel of request {}: {}", r.target, token ? "found" : "not found");
  if (token && handler_) {
    handler_->cancel(*token, Error::cancelled("call " + r.target.to_display() +
                                              " was cancelled by the cancel op"));
  }
  return protocol::CancelReply{token.has_value()};
}

bool Server::send(const OpenRequest& to, const Reply& reply, bool last) {
  size_t bytes = 0;
  bool sent = true;
  if (to.from.is_local()) {
    // The HTTP listener: the final reply, and the parts when it streams.
    if (last) {
      to.from.local(reply);
    } else if (to.from.local_part) {
      sent = to.from.local_part(reply);
    }
  } else {
    const std::string body = wire_reply(to.id, reply);
    bytes = body.size();
    sent = send_reply(to.from.envelope, body);
  }
  if (spdlog::should_log(spdlog::level::trace)) {
    const double ms = std::chrono::duration<double, std::milli>(clock_.steady_now() - to.started).count();
    spdlog::trace("reply {}to {}: {} {} bytes after {:.1f} ms{}", last ? "" : "part ", to.op,
                  reply.code(), bytes, ms, sent ? "" : " (dropped)");
  }
  return sent;
}

void Server::submit(protocol::RequestId id, protocol::RequestBody body, curve::Caller caller,
                    LocalReply done, LocalPart parts) {
  LoopMessage m;
  m.then = [this, id = std::move(id), body = std::move(body), caller = std::move(caller),
            done = std::move(done), parts = std::move(parts)]() mutable {
    OpenRequest request;
    request.from.local = std::move(done);
    request.from.local_part = std::move(parts);
    request.started = clock_.steady_now();
    dispatch(id, body, caller, std::move(request));
  };
  mailbox_.post(std::move(m));
}

void Server::cancel_submitted(protocol::RequestId id, Error why) {
  LoopMessage m;
  m.then = [this, id = std::move(id), why = std::move(why)]() mutable {
    const auto token = pending_.find_local_call(id);
    spdlog::debug("cancel of submitted call {}: {}", id.to_display(), token ? "found" : "not found");
    if (token && handler_) handler_->cancel(*token, std::move(why));
  };
  mailbox_.post(std::move(m));
}

void Server::drain_mailbox() {
  for (auto& message : mailbox_.drain()) {
    for (const auto& event : message.events) {
      events_->publish(event);
      if (handler_) handler_->published(event);
    }
    if (message.token != 0 && message.reply && message.last) {
      if (!pending_.finish(message.token, *message.reply)) {
        spdlog::error("reply for unknown token {}", message.token);
      }
    } else if (message.token != 0 && message.reply) {
      using Sent = PendingRequests::PartSent;
      switch (pending_.part(message.token, *message.reply)) {
        case Sent::kSent:
        case Sent::kSkipped:
          break;
        case Sent::kCut:
          // PROTOCOL.md section 9: a client that cannot take the parts
          // (gone, or ZMQ_SNDHWM messages behind) has its stream cut.
          spdlog::warn("a streamed call's part could not be sent (the client is gone or too far "
                       "behind); cancelling the call");
          if (handler_) {
            handler_->cancel(message.token,
                             Error::cancelled("the stream was cut: the client was gone or too "
                                              "far behind to take its parts"));
          }
          break;
        case Sent::kNoRequest:
          break;  // a part that came after its call was answered (a timeout)
      }
    }
    if (message.then) message.then();
  }
}

bool Server::send_reply(const std::vector<zmq::message_t>& envelope, const std::string& body) {
  try {
    // With ZMQ_ROUTER_MANDATORY the identity frame fails (EHOSTUNREACH, or
    // EAGAIN when the client's queue is full) before anything is queued.
    for (const auto& frame : envelope) {
      if (!router_.send(zmq::buffer(frame.data(), frame.size()),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        spdlog::debug("reply dropped: the client's send queue is full");
        return false;
      }
    }
    router_.send(zmq::buffer(body), zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t& e) {
    // The peer vanished: the reply is dropped.
    spdlog::debug("reply dropped: {}", e.what());
    return false;
  }
}

}  // namespace tollgate
