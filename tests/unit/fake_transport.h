// FakeTransport: a Transport for unit tests. It records every request
// submitted and answers one only when the test says so (a reply, streamed
// chunks then a reply, a transport failure, or any HttpResponse), so call
// code can be driven with no sockets and no sleeps.
//
// Threads: one. submit() and the answers run on the test's thread, and so
// do the callbacks; pair it with a loop the test steps on the same thread
// (tests/unit/manual_call_loop.h), never with a Worker.
//
// It keeps the Transport guarantee: on_done never runs inside submit(), and
// at most once per request (answering a request twice throws
// std::logic_error: a bug in the test). Requests are numbered from 0 in
// submission order; references to them stay valid while the fake lives.
#pragma once

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "workers/providers/transport.h"

namespace tollgate::workers::testing {

class FakeTransport final : public Transport {
 public:
  TransferId submit(HttpRequest request, HttpRequestOptions options, ChunkCallback on_chunk,
                    DoneCallback on_done) override {
    Exchange e;
    e.request = std::move(request);
    e.options = options;
    e.on_chunk = std::move(on_chunk);
    e.on_done = std::move(on_done);
    exchanges_.push_back(std::move(e));
    return exchanges_.size();  // request i is TransferId i + 1
  }
  // Recorded only: the test ends the request with end_cancelled(i), as the
  // real transport would at its next step.
  void cancel(TransferId id, std::string reason) override {
    if (id == 0 || id > exchanges_.size() || exchanges_[id - 1].answered) return;
    exchanges_[id - 1].cancel_reason = std::move(reason);
  }
  // The reason request i was cancelled with; empty when it was not.
  const std::string& cancel_reason(size_t i) const { return exchanges_.at(i).cancel_reason; }
  // Request i (cancelled) ends: on_done gets the cancel's reason.
  void end_cancelled(size_t i, long status = 200) {
    HttpResponse r;
    r.status = status;
    r.error = open(i).cancel_reason;
    if (r.error.empty()) throw std::logic_error("FakeTransport: request was not cancelled");
    r.cancelled = true;
    r.request_sent = true;
    answer(i, std::move(r));
  }

  size_t submitted() const { return exchanges_.size(); }
  // Requests submitted and not answered yet.
  size_t unanswered() const {
    size_t n = 0;
    for (const auto& e : exchanges_) n += e.answered ? 0 : 1;
    return n;
  }
  // The oldest request not answered yet; throws when there is none.
  size_t next() const {
    for (size_t i = 0; i < exchanges_.size(); ++i) {
      if (!exchanges_[i].answered) return i;
    }
    throw std::logic_error("FakeTransport: no request is waiting for an answer");
  }
  const HttpRequest& request(size_t i) const { return exchanges_.at(i).request; }
  const HttpRequestOptions& options(size_t i) const { return exchanges_.at(i).options; }

  // Body bytes of request i arriving before its answer: on_chunk (when
  // set) gets them now; they start the body reply() completes.
  void chunk(size_t i, std::string_view bytes) {
    Exchange& e = open(i);
    e.streamed.append(bytes);
    if (e.on_chunk) e.on_chunk(bytes);
  }
  // An HTTP answer to request i (its request was sent): on_chunk gets
  // `body` (when set and not empty), then on_done the whole response, whose
  // body is what chunk() streamed followed by `body`.
  void reply(size_t i, long status, std::string body, HttpHeaders headers = {}) {
    if (!body.empty()) chunk(i, body);
    HttpResponse r;
    r.status = status;
    r.headers = std::move(headers);
    r.body = std::move(open(i).streamed);
    r.request_sent = true;
    answer(i, std::move(r));
  }
  // No complete HTTP answer to request i: `error` as a transport would
  // report it. request_sent: whether any byte of the request left.
  void fail(size_t i, std::string error, bool request_sent, bool timed_out = false) {
    HttpResponse r;
    r.error = std::move(error);
    r.request_sent = request_sent;
    r.timed_out = timed_out;
    r.curl_code = timed_out ? 28 : 7;  // CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT
    answer(i, std::move(r));
  }
  // Request i's on_done gets `response` as it is.
  void answer(size_t i, HttpResponse response) {
    Exchange& e = open(i);
    e.answered = true;
    DoneCallback done = std::move(e.on_done);  // it may submit again
    done(std::move(response));
  }

 private:
  struct Exchange {
    HttpRequest request;
    HttpRequestOptions options;
    ChunkCallback on_chunk;
    DoneCallback on_done;
    std::string streamed;  // chunk() bytes so far
    std::string cancel_reason;
    bool answered = false;
  };

  Exchange& open(size_t i) {
    Exchange& e = exchanges_.at(i);
    if (e.answered) throw std::logic_error("FakeTransport: request answered twice");
    return e;
  }

  std::deque<Exchange> exchanges_;  // a deque: submit() keeps references valid
};

}  // namespace tollgate::workers::testing
