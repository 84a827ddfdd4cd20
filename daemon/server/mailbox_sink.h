// MailboxCallSink: the server's side of CallSink (daemon/server/call_sink.h).
// Each outcome becomes one LoopMessage on the loop's Mailbox: the loop
// publishes the events, answers the token with the reply (typed; the edge
// encodes it) and then runs `after`.
//
// Threads: any thread. The Mailbox must outlive the sink.
#pragma once

#include "daemon/server/call_sink.h"
#include "daemon/server/mailbox.h"

namespace tollgate {

class MailboxCallSink final : public CallSink {
 public:
  explicit MailboxCallSink(Mailbox& mailbox) : mailbox_(mailbox) {}
  void deliver(uint64_t token, CallOutcome outcome, std::function<void()> after) override;
  void part(uint64_t token, protocol::CallPartReply part) override;
  void publish(std::vector<protocol::Event> events) override;

 private:
  Mailbox& mailbox_;
};

// A call's result as the Reply the loop sends.
Reply reply_of(CallResult result);

}  // namespace tollgate
