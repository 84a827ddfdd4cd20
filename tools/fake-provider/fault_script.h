// Fault scripts for the fake provider: what to do instead of (or on top of)
// a normal answer, per API, for the next N requests or forever.
//
// Syntax on the command line: `API:key=value:flag...`, e.g.
//   anthropic:status=529:times=3     openai:status=429:retry_after=2:times=1
//   openai:delay_ms=500              anthropic:truncate     openai:drop
//   anthropic:output_tokens=5        openai:no_usage        anthropic:invalid_json
//   anthropic:extra_output_tokens=500 (reported beyond max_tokens)
//   openai:body_bytes=10000000       openai:insufficient_quota
//   anthropic:status=529:every=100   (every 100th request; soak tests)
// API is `anthropic`, `openai` or `*` (both). The same faults as JSON (for
// POST /_control/faults): an array whose elements are such strings or
// objects {"api": "openai", "status": 429, "retry_after": 2, "times": 1,
// "every": 1, "delay_ms": 0, "truncate": false, "drop": false, "output_tokens": 5,
// "no_usage": false, "invalid_json": false, "body_bytes": 0,
// "insufficient_quota": false, "extra_output_tokens": 0,
// "stream_cut_after": 3, "stream_stall_after": 2, "stall_ms": 500,
// "stream_error_after": 4, "split": 3, "event_delay_ms": 20}.
//
// Stream faults, for requests with "stream": true (fake_stream.h). N counts
// the server-sent events of the stream as they are sent (Anthropic
// message_start is event 1; OpenAI's `data: [DONE]` is an event too); an N
// of at least the stream's event count has no effect.
//   anthropic:stream_cut_after=3      send 3 events, then close the connection
//                                     (no message_stop / [DONE], no final usage)
//   openai:stream_stall_after=2:stall_ms=5000   after 2 events send nothing
//                                     for 5 s, then go on
//   anthropic:stream_error_after=4    after 4 events send the API's mid-stream
//                                     error event and end the stream
//   openai:split=3                    write the stream 3 bytes at a time
//                                     (each event cut in 3-byte writes)
//   anthropic:event_delay_ms=20       wait 20 ms between events
// At equal N a stall comes first, then a cut, then an error event. A fault
// with any of these keys fires on streamed requests only: other requests
// neither trigger it nor count toward its times or every. Of the other
// keys, status, insufficient_quota, drop and invalid_json answer before any
// stream; delay_ms delays the first byte; output_tokens,
// extra_output_tokens, body_bytes and no_usage shape the streamed reply;
// truncate cuts a stream after half its events.
//
// FaultScript is thread-safe: every method may be called from any server
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/core/sync.h"

namespace tollgate::fake_provider {

struct Fault {
  std::string api = "*";       // "anthropic", "openai" or "*"
  std::optional<int> times;    // remaining firings; nullopt = forever
  int every = 1;               // fire on every Nth matching request only
  uint64_t seen = 0;           // matching requests so far (for `every`)
  int status = 0;              // non-zero: answer with this HTTP error
  std::optional<int> retry_after_s;  // Retry-After header on error answers
  int delay_ms = 0;            // wait before answering
  bool truncate = false;       // send half the body, then close
  bool drop = false;           // close the connection without answering
  bool no_usage = false;       // success without the usage field
  bool invalid_json = false;   // 200 with a body that is not JSON
  bool insufficient_quota = false;  // the API's out-of-credit error
  std::optional<uint64_t> output_tokens;  // override the output token count
  // Reported on top of the output, past max_tokens: a provider that breaks
  // the bound the caller reserved for.
  uint64_t extra_output_tokens = 0;
  std::optional<size_t> body_bytes;       // pad the reply text to this many bytes
  // Streamed requests only (see above).
  std::optional<size_t> stream_cut_after;
  std::optional<size_t> stream_stall_after;  // with stall_ms
  int stall_ms = 0;
  std::optional<size_t> stream_error_after;
  size_t split = 0;        // non-zero: write the stream in pieces of this many bytes
  int event_delay_ms = 0;  // wait between events

  // Has a key that only applies to streamed requests.
  bool streams_only() const;

  nlohmann::json to_json() const;
};

// Parses one fault in the command-line syntax; nullopt and `error` set on
// failure.
std::optional<Fault> parse_fault(const std::string& text, std::string& error);
// Parses the JSON form (an array of strings or objects).
std::optional<std::vector<Fault>> parse_faults(const nlohmann::json& list, std::string& error);

class FaultScript {
 public:
  void replace(std::vector<Fault> faults);
  void clear();
  // The first fault for `api` still armed, counted down by one; nullopt when
  // none applies. stream: the request asked for a stream (faults with
  // stream keys apply to those only).
  std::optional<Fault> next(const std::string& api, bool stream = false);
  nlohmann::json to_json() const;

 private:
  mutable Mutex mu_;
  std::vector<Fault> faults_ GUARDED_BY(mu_);
};

}  // namespace tollgate::fake_provider
