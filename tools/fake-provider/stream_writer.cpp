#include "tools/fake-provider/stream_writer.h"

#include <algorithm>

namespace tollgate::fake_provider {

StreamFaults StreamFaults::from(const Fault& fault, size_t events) {
  StreamFaults f;
  f.cut_after = fault.stream_cut_after;
  if (fault.truncate && !f.cut_after) f.cut_after = events / 2;
  f.stall_after = fault.stream_stall_after;
  f.stall_ms = fault.stall_ms;
  f.error_after = fault.stream_error_after;
  f.split = fault.split;
  f.event_delay_ms = fault.event_delay_ms;
  return f;
}

StreamWriter::StreamWriter(std::vector<WireEvent> events, std::string error_event,
                           StreamFaults faults, Wait wait, Report report)
    : events_(std::move(events)),
      error_event_(std::move(error_event)),
      faults_(faults),
      wait_(std::move(wait)),
      report_(std::move(report)) {}

bool StreamWriter::step(httplib::DataSink& sink) {
  if (reported_ || next_ >= events_.size()) return end(false);
  const size_t n = next_;
  if (n > 0 && faults_.event_delay_ms > 0 && !wait_(faults_.event_delay_ms)) return end(false);
  if (faults_.stall_after == n && faults_.stall_ms > 0 && !wait_(faults_.stall_ms))
    return end(false);
  if (faults_.cut_after == n) return end(false);
  if (faults_.error_after == n) {
    outcome_.errored = true;
    end(true);
    if (write(sink, error_event_)) sink.done();
    return true;
  }
  if (n + 1 == events_.size()) {
    // The last event: the stream is complete once it is written, reported
    // before the client can read it.
    outcome_ = {true, false, false, events_.size(), events_.back().output_tokens};
    end(true);
  }
  if (!write(sink, events_[n].bytes)) {
    // Reported already when this was the last event; a client that went
    // away then had every byte but the terminating chunk.
    outcome_.client_closed = !outcome_.complete;
    return end(false);
  }
  ++next_;
  if (!outcome_.complete) {
    outcome_.events_sent = next_;
    outcome_.output_tokens_sent = events_[n].output_tokens;
  } else {
    sink.done();
  }
  return true;
}

void StreamWriter::release() { end(false); }

bool StreamWriter::write(httplib::DataSink& sink, const std::string& bytes) {
  const size_t piece = faults_.split > 0 ? faults_.split : bytes.size();
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (!sink.write(bytes.data() + at, std::min(piece, bytes.size() - at))) return false;
  }
  return true;
}

bool StreamWriter::end(bool keep_going) {
  if (!reported_) {
    reported_ = true;
    report_(outcome_);
  }
  return keep_going;
}

}  // namespace tollgate::fake_provider
