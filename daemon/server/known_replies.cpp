#include "daemon/server/known_replies.h"

#include <algorithm>

#include "protocol/codec.h"

namespace tollgate {

std::string KnownReplies::question(const protocol::RequestBody& body) {
  return protocol::encode_request(protocol::RequestId{}, body);
}

void KnownReplies::remember(const std::string& question, const Reply& reply, int64_t now_ms) {
  if (!reply.ok() || capacity_ == 0) return;
  MutexLock lock(mu_);
  auto it = known_.find(question);
  if (it != known_.end()) {
    it->second = Known{reply, now_ms};
    return;
  }
  if (known_.size() >= capacity_) {
    known_.erase(std::min_element(known_.begin(), known_.end(), [](const auto& a, const auto& b) {
      return a.second.as_of_ms < b.second.as_of_ms;
    }));
  }
  known_.emplace(question, Known{reply, now_ms});
}

std::optional<Reply> KnownReplies::recall(const std::string& question,
                                          const std::string& reason) const {
  MutexLock lock(mu_);
  auto it = known_.find(question);
  if (it == known_.end()) return std::nullopt;
  Reply reply = it->second.reply;
  reply.mark_stale(protocol::Staleness{it->second.as_of_ms, reason});
  return reply;
}

size_t KnownReplies::size() const {
  MutexLock lock(mu_);
  return known_.size();
}

}  // namespace tollgate
