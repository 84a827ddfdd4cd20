// Transport: how a provider request leaves tollgated and its answer comes
// back. The call code submits requests through this interface only: the
// curl implementation (curl_transport.h) runs on a worker thread's loop; a
// fake (tests/unit/fake_transport.h) lets unit tests answer each request
// by hand.
//
// Threads: a transport belongs to one thread, the one that drives it (a
// worker's loop, or the test). submit() is called on that thread, and
// on_chunk and on_done run on it, never inside submit() itself (always
// from a later step of the driving thread), so a callback may submit again.
//
// Guarantee: every submitted request gets exactly one on_done, with the
// complete response, with a transport error (timeout, refused, response
// over the size cap), or with the error "shutting down" when the transport
// stops before it finished (request_sent then says whether any byte of it
// left). on_chunk, when set, gets the body bytes in order as they arrive,
// before on_done; the body in on_done is still complete, except for a
// streamed request (HttpRequestOptions::stream): the bytes of a 2xx answer
// go to on_chunk only (a long stream is never held whole), those of any
// other status to the body only (the provider's error, read at the end).
// cancel() ends a request early: its on_done gets `error` = the reason
// given, at a later step of the driving thread, never inside cancel().
// A callback that throws is logged and otherwise ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "workers/providers/provider_types.h"

namespace tollgate::workers {

struct HttpRequestOptions {
  int64_t connect_timeout_ms = 10'000;
  int64_t total_timeout_ms = 120'000;  // includes time queued for a connection
  size_t max_response_bytes = 8 * 1024 * 1024;  // over it: error "response over N bytes"
  // A streamed answer (server-sent events): see the guarantee above.
  bool stream = false;
};

// Names a submitted request for cancel(); never 0.
using TransferId = uint64_t;

// Body bytes as they arrive (valid only during the call).
using ChunkCallback = std::function<void(std::string_view bytes)>;
// The whole answer, once.
using DoneCallback = std::function<void(HttpResponse response)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts the request (or queues it, see the implementation's limits).
  // on_chunk may be empty.
  virtual TransferId submit(HttpRequest request, HttpRequestOptions options,
                            ChunkCallback on_chunk, DoneCallback on_done) = 0;
  // Ends request `id` early (a cancelled call, an idle stream): its on_done
  // gets `reason` as the error, with request_sent as far as it went, at a
  // later step. Nothing when it has already ended (or its on_done is due).
  virtual void cancel(TransferId id, std::string reason) = 0;
};

}  // namespace tollgate::workers
