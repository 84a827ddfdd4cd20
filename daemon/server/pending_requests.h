// PendingRequests: the requests the server loop has taken and not yet
// closed, and the one way their replies leave (a ReplyEdge).
//
// A request is answered at once (answer) or kept open under its token
// until its reply arrives (finish). An open request may first get any
// number of reply parts (part): each goes to the requester at once, in
// order, and the request stays open; the final reply closes it (a
// streamed `call`, PROTOCOL.md section 9). A part the edge could not hand
// to the client (gone, or its queue full) cuts the stream: no later part
// goes out (the client would see a gap), and the caller cancels the call.
//
// Each final reply is counted into the metrics (op, code, transport,
// duration, calls in flight) from its typed value.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "daemon/core/clock.h"
#include "daemon/server/reply.h"
#include "daemon/server/request_metrics.h"
#include "protocol/request_id.h"

namespace tollgate {

// A local submitter's hook (the HTTP listener): gets the final reply.
using LocalReply = std::function<void(const Reply& reply)>;
// A local submitter's hook for the parts of a streamed reply (the HTTP
// ingress's server-sent events); false when its client is gone, which
// cuts the stream as a ROUTER client that cannot take a part does.
using LocalPart = std::function<bool(const Reply& part)>;

// Who asked: a ROUTER client (its routing envelope), or a local submitter.
struct Requester {
  std::vector<zmq::message_t> envelope;
  LocalReply local;
  LocalPart local_part;  // optional: without it parts are not passed on
  bool is_local() const { return static_cast<bool>(local); }
};

struct OpenRequest {
  Requester from;
  protocol::RequestId id;
  std::string_view op = kInvalidOp;  // static storage (protocol::op_name)
  Clock::SteadyTime started{};
  bool cut = false;  // a part could not be delivered: no more parts go out
};

// Where replies leave the daemon, each encoded once (the Server: ROUTER or
// a local submitter's hook).
class ReplyEdge {
 public:
  virtual ~ReplyEdge() = default;
  // `last`: the final reply; false for a part (the request stays open).
  // False when the reply could not be handed on (the client is gone, or
  // its send queue is full): it is dropped.
  virtual bool send(const OpenRequest& to, const Reply& reply, bool last) = 0;
};

class PendingRequests {
 public:
  PendingRequests(ReplyEdge& edge, const Clock& clock) : edge_(edge), clock_(clock) {}
  PendingRequests(const PendingRequests&) = delete;
  PendingRequests& operator=(const PendingRequests&) = delete;

  // Optional: counts every final reply.
  void set_metrics(RequestMetrics* metrics) { metrics_ = metrics; }

  // Answers `request` now: its final reply.
  void answer(const OpenRequest& request, const Reply& reply);
  // Keeps `request` open under `token` until finish().
  void park(uint64_t token, OpenRequest request);
  enum class PartSent {
    kSent,       // handed to the client
    kCut,        // not delivered: the stream is cut from now on (cancel the call)
    kSkipped,    // the stream was cut before: not sent
    kNoRequest,  // no request is open under `token`
  };
  // One part of the reply to `token`; the request stays open.
  PartSent part(uint64_t token, const Reply& reply);
  // The final reply to `token`; the request is closed. False when no
  // request is open under `token`.
  bool finish(uint64_t token, const Reply& reply);

  // The token of the `call` open under request id `id` from the ROUTER
  // client whose envelope starts with `identity`; nullopt when none is.
  std::optional<uint64_t> find_call(const zmq::message_t& identity,
                                    const protocol::RequestId& id) const;

  // The token of the `call` a local submitter has open under request id
  // `id`; nullopt when none is.
  std::optional<uint64_t> find_local_call(const protocol::RequestId& id) const;

  size_t size() const { return open_.size(); }
  bool empty() const { return open_.empty(); }
  bool is_open(uint64_t token) const { return open_.count(token) > 0; }

 private:
  void count(const OpenRequest& request, const Reply& reply, bool was_open);

  ReplyEdge& edge_;
  const Clock& clock_;
  RequestMetrics* metrics_ = nullptr;
  std::unordered_map<uint64_t, OpenRequest> open_;
};

}  // namespace tollgate
