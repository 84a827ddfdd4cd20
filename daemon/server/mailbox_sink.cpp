#include "daemon/server/mailbox_sink.h"

namespace tollgate {

Reply reply_of(CallResult result) {
  if (!result) return Reply(result.error());
  return Reply(std::move(result).value());
}

void MailboxCallSink::deliver(uint64_t token, CallOutcome outcome, std::function<void()> after) {
  LoopMessage m;
  m.token = token;
  m.reply = reply_of(std::move(outcome.reply));
  m.events = std::move(outcome.events);
  m.then = std::move(after);
  mailbox_.post(std::move(m));
}

void MailboxCallSink::part(uint64_t token, protocol::CallPartReply part) {
  LoopMessage m;
  m.token = token;
  m.reply = Reply(std::move(part));
  m.last = false;
  mailbox_.post(std::move(m));
}

void MailboxCallSink::publish(std::vector<protocol::Event> events) {
  if (events.empty()) return;
  LoopMessage m;
  m.events = std::move(events);
  mailbox_.post(std::move(m));
}

}  // namespace tollgate
