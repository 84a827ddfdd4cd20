// SseParser: an incremental reader of a server-sent event stream
// (text/event-stream, the WHATWG HTML "Parsing an event stream" and
// "Interpreting an event stream" rules), as both provider formats stream
// their answers.
//
// feed() takes the bytes of an answer as they arrive, in chunks split
// anywhere (inside a field name, inside a UTF-8 character, between a CR
// and its LF), and appends each event completed by a blank line. The
// result never depends on where the chunks were split. The rules:
// - lines end with LF, CRLF or CR; a UTF-8 BOM at the very start is skipped;
// - a line starting with ':' is a comment; `field:value` drops one space
//   after the colon; a line without a colon is a field with an empty value;
// - `data` lines are joined with LF; `event` names the event; `id` (without
//   NUL) sets the last event id, which stays until another `id` sets it;
//   `retry` and unknown fields are ignored;
// - a blank line dispatches the event, unless no `data` line came since
//   the last one (then the event name is dropped and nothing dispatches);
// - an event still open when the stream ends is never dispatched.
// Bytes pass through unchanged: invalid UTF-8 is left for the JSON reader.
//
// Bounded: a line, or the data of one event, longer than max_event_bytes
// makes the parser fail (error() says which); it then ignores further
// bytes. Its memory stays within a few times max_event_bytes.
//
// One parser per answer, used by one thread at a time; plain values, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::workers {

struct SseEvent {
  std::string event{};  // the `event` field; empty when the event names none ("message")
  std::string data{};   // the data lines joined by '\n'
  std::string id{};     // the last event id when it was dispatched; empty if none yet
  bool operator==(const SseEvent&) const = default;
};

class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{4} << 20;  // 4 MiB

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes);

  // Reads `bytes`, appending the events they complete to `out` in order.
  // False once the parser has failed (now or before).
  bool feed(std::string_view bytes, std::vector<SseEvent>& out);

  bool failed() const { return !error_.empty(); }
  // Why it failed, one line ("server-sent event line over 4194304 bytes");
  // empty while it has not.
  const std::string& error() const { return error_; }

 private:
  void scan(std::string_view bytes, std::vector<SseEvent>& out);
  void process_line(std::string_view line, std::vector<SseEvent>& out);
  void process_field(std::string_view field, std::string_view value);
  void dispatch(std::vector<SseEvent>& out);
  void fail(std::string_view what);

  // Constant after construction.
  const size_t max_bytes_;

  // The stream so far.
  bool started_ = false;   // the first bytes were checked for a BOM
  std::string head_;       // the first bytes, while they may still be a BOM
  bool after_cr_ = false;  // the last byte ended a line with CR: a LF next is part of it
  std::string line_;       // the unfinished line
  std::string event_;      // the event name buffer
  std::string data_;       // the data buffer: each data line and a '\n'
  std::string id_;         // the last event id buffer
  std::string error_;
};

}  // namespace tollgate::workers
