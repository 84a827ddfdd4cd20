// StreamWriter: writes the events of one streamed reply (fake_stream.h) to
// an httplib chunked response as they are produced, applying the stream
// faults of fault_script.h: a cut (the connection closes), a stall, a
// mid-stream error event, writes of K bytes, a delay between events.
//
// Each step() (httplib's chunked content provider) writes one event; each
// write of the sink goes out as its own HTTP chunk. A failed write is a
// client that went away; the stream ends there. The outcome (complete, cut
// by a fault or the server's shutdown, or the client gone) is reported
// once, through the `report` callback, before the client can see the end:
// before the last bytes of a complete stream or of an error, before the
// connection of a cut closes. release() (httplib's resource releaser)
// reports a stream that ended any other way (the server stopping) as cut.
//
// Waits go through the `wait` callback, which returns false once the
// server is shutting down: the stream is then cut at once.
//
// One writer per response, used by the httplib thread serving it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>

#include "tools/fake-provider/fake_stream.h"
#include "tools/fake-provider/fault_script.h"

namespace tollgate::fake_provider {

// The stream part of a fault (fault_script.h), events counted from 0.
struct StreamFaults {
  std::optional<size_t> cut_after;
  std::optional<size_t> stall_after;
  int stall_ms = 0;
  std::optional<size_t> error_after;
  size_t split = 0;  // 0: an event in one write
  int event_delay_ms = 0;

  // The fault's stream keys; truncate is a cut after half of `events`.
  static StreamFaults from(const Fault& fault, size_t events);
};

struct StreamOutcome {
  bool complete = false;            // every event written
  bool errored = false;             // ended by the error event (stream_error_after)
  bool client_closed = false;       // a write failed: the client went away
  size_t events_sent = 0;           // events written whole (the error event not counted)
  uint64_t output_tokens_sent = 0;  // WireEvent::output_tokens of the last one
};

class StreamWriter {
 public:
  using Wait = std::function<bool(int ms)>;  // false: shutting down
  using Report = std::function<void(const StreamOutcome&)>;

  StreamWriter(std::vector<WireEvent> events, std::string error_event, StreamFaults faults,
               Wait wait, Report report);

  // Writes the next event (after the waits the faults ask for), or the
  // error event, or nothing when the stream is cut. False: abort, httplib
  // closes the connection.
  bool step(httplib::DataSink& sink);
  // The response is done with: reports the outcome if step() has not.
  void release();

 private:
  bool write(httplib::DataSink& sink, const std::string& bytes);
  // Reports once; returns `keep_going` for step() to return.
  bool end(bool keep_going);

  // Constant after construction.
  const std::vector<WireEvent> events_;
  const std::string error_event_;
  const StreamFaults faults_;
  const Wait wait_;
  const Report report_;

  size_t next_ = 0;  // the next event to write
  bool reported_ = false;
  StreamOutcome outcome_;
};

}  // namespace tollgate::fake_provider
