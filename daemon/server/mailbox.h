// Mailbox: how other threads hand work results to the server loop.
//
// Any thread may post(); only the loop thread drains it. An eventfd wakes the
// loop's poll, so no ZeroMQ socket is shared between threads and no thread
// but the loop ever touches ROUTER or PUB.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/sync.h"
#include "daemon/server/reply.h"
#include "protocol/events.h"

namespace tollgate {

struct LoopMessage {
  uint64_t token = 0;                   // 0: no reply (events only)
  std::optional<Reply> reply;           // for `token`; the edge encodes it
  std::vector<protocol::Event> events;  // to publish first, in order
  // Runs on the loop thread after the reply is sent (bookkeeping of the
  // sender that must happen on the loop, e.g. answering waiters).
  std::function<void()> then;
  // False: `reply` is one part of a reply; the request stays open for more
  // parts and its final reply (a streamed reply).
  bool last = true;
};

class Mailbox {
 public:
  Mailbox();
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread.
  void post(LoopMessage message);
  // Loop thread: the fd to poll for readability, and the messages waiting.
  int fd() const { return fd_; }
  std::deque<LoopMessage> drain();

 private:
  const int fd_;
  Mutex mu_;
  std::deque<LoopMessage> queue_ GUARDED_BY(mu_);
};

}  // namespace tollgate
