// CallSink: how the call code (workers/calls/) reports what a call produced
// to the server, without knowing the server's loop or its Mailbox.
//
// A call ends in a CallOutcome: its reply value or its error, typed (the
// edge encodes it, daemon/server/reply.h), and the events it produced. The
// server implements the sink (MailboxCallSink, daemon/server/mailbox_sink.h:
// posts to the loop, which publishes the events in order, then answers the
// request the token names).
//
// Threads: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "protocol/error.h"
#include "protocol/events.h"
#include "protocol/replies.h"

namespace tollgate {

// A call's reply, or the error it ended with.
using CallResult = protocol::Result<protocol::CallReply>;

struct CallOutcome {
  CallResult reply;
  std::vector<protocol::Event> events;  // published before the reply, in order
};

class CallSink {
 public:
  virtual ~CallSink() = default;
  // The call under `token` ended: its events go out, then its reply, which
  // closes the request; then `after` (may be empty) runs on the loop thread
  // (bookkeeping of the caller's that belongs on the loop).
  virtual void deliver(uint64_t token, CallOutcome outcome, std::function<void()> after) = 0;
  // One part of a streamed reply to `token` (PROTOCOL.md section 9), sent
  // at once; the request stays open for more parts and its deliver().
  virtual void part(uint64_t token, protocol::CallPartReply part) = 0;
  // Events outside any reply (a charge that outlived its call), in order.
  virtual void publish(std::vector<protocol::Event> events) = 0;
};

}  // namespace tollgate
