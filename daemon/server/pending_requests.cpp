#include "daemon/server/pending_requests.h"

namespace tollgate {

namespace {

constexpr std::string_view kCallOp = "call";

}  // namespace

void PendingRequests::answer(const OpenRequest& request, const Reply& reply) {
  edge_.send(request, reply, true);
  count(request, reply, false);
}

void PendingRequests::park(uint64_t token, OpenRequest request) {
  if (metrics_ && request.op == kCallOp) metrics_->call_started();
  open_.insert_or_assign(token, std::move(request));
}

PendingRequests::PartSent PendingRequests::part(uint64_t token, const Reply& reply) {
  auto it = open_.find(token);
  if (it == open_.end()) return PartSent::kNoRequest;
  OpenRequest& request = it->second;
  if (request.cut) return PartSent::kSkipped;
  if (edge_.send(request, reply, false)) return PartSent::kSent;
  request.cut = true;
  return PartSent::kCut;
}

std::optional<uint64_t> PendingRequests::find_call(const zmq::message_t& identity,
                                                   const protocol::RequestId& id) const {
  for (const auto& [token, request] : open_) {
    if (request.op != kCallOp || request.from.is_local() || request.id != id) continue;
    const auto& envelope = request.from.envelope;
    if (!envelope.empty() && envelope.front() == identity) return token;
  }
  return std::nullopt;
}

std::optional<uint64_t> PendingRequests::find_local_call(const protocol::RequestId& id) const {
  for (const auto& [token, request] : open_) {
    if (request.op == kCallOp && request.from.is_local() && request.id == id) return token;
  }
  return std::nullopt;
}

bool PendingRequests::finish(uint64_t token, const Reply& reply) {
  auto node = open_.extract(token);
  if (node.empty()) return false;
  edge_.send(node.mapped(), reply, true);
  count(node.mapped(), reply, true);
  return true;
}

void PendingRequests::count(const OpenRequest& request, const Reply& reply, bool was_open) {
  if (!metrics_) return;
  const double seconds = std::chrono::duration<double>(clock_.steady_now() - request.started).count();
  metrics_->replied(request.from.is_local() ? kHttpTransport : kZmqTransport, request.op, reply,
                    seconds, was_open && request.op == kCallOp);
}

}  // namespace tollgate
