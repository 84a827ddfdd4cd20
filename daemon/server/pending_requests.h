// PendingRequests: the requests the server loop has taken and not yet
// closed, and the one way their replies leave (a ReplyEdge).
//
// A request is answered at once (answer) or kept open under its token
// until its reply arrives (finish). An open request may first get any
// number of reply parts (part): each goes to the requester at once, in
// order, and the request stays open; the final reply closes it. No op
// streams yet; streamed replies will arrive as parts.
//
// Each final reply is counted into the metrics (op, code, transport,
// duration, calls in flight) from its typed value.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
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

// Who asked: a ROUTER client (its routing envelope), or a local submitter.
struct Requester {
  std::vector<zmq::message_t> envelope;
  LocalReply local;
  bool is_local() const { return static_cast<bool>(local); }
};

struct OpenRequest {
  Requester from;
  protocol::RequestId id;
  std::string_view op = kInvalidOp;  // static storage (protocol::op_name)
  Clock::SteadyTime started{};
};

// Where replies leave the daemon, each encoded once (the Server: ROUTER or
// a local submitter's hook).
class ReplyEdge {
 public:
  virtual ~ReplyEdge() = default;
  // `last`: the final reply; false for a part (the request stays open).
  virtual void send(const OpenRequest& to, const Reply& reply, bool last) = 0;
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
  // One part of the reply to `token`; the request stays open. False when
  // no request is open under `token`.
  bool part(uint64_t token, const Reply& reply);
  // The final reply to `token`; the request is closed. False when no
  // request is open under `token`.
  bool finish(uint64_t token, const Reply& reply);

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
