// A blocking request/reply client for tollgated over a DEALER socket, used by
// tollctl (and handy for scripts and tests). A DEALER (not REQ) so that a
// streamed call (PROTOCOL.md section 9) can get its parts and then its
// reply on the same request. One thread per Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "protocol/codec.h"
#include "tools/tollctl/curve_client.h"

namespace tollgate::tools {

// How long a streamed call may take: `total` from sending to the last
// message, and `between` parts (from one part to the next message; the
// wait for the first part is bounded by `total` only, since retries and
// fallback happen before it).
struct StreamWaits {
  std::chrono::milliseconds total;
  std::chrono::milliseconds between;
};

// What a streamed call got: its last message, or nullopt when a wait of
// StreamWaits passed first (after `parts` parts).
struct StreamEnd {
  std::optional<nlohmann::json> reply;
  uint64_t parts = 0;
  bool stalled = false;  // no reply: `between` passed (not `total`)
};

class Client {
 public:
  // With `curve`, the socket is a CurveZMQ client with those keys.
  Client(zmq::context_t& context, const std::string& endpoint,
         const std::optional<CurveClientKeys>& curve = std::nullopt);

  // Sends one request and waits up to `timeout` for its reply (matched by
  // id). nullopt when no reply came in time.
  std::optional<nlohmann::json> request(const protocol::RequestBody& body,
                                        std::chrono::milliseconds timeout);

  // Sends a call with `stream: true` and hands each part (a message with
  // `chunk`) to `on_part` as it arrives, in order; the last message (the
  // call's reply or an error reply) is returned, not handed over.
  StreamEnd stream(const protocol::CallRequest& call, const StreamWaits& waits,
                   const std::function<void(const nlohmann::json& part)>& on_part);

 private:
  // Sends `body` under a new id; returns that id.
  std::string send(const protocol::RequestBody& body);
  // The next message for `id` (others are dropped), or nullopt at `deadline`.
  std::optional<nlohmann::json> receive(const std::string& id,
                                        std::chrono::steady_clock::time_point deadline);

  zmq::socket_t socket_;
  int64_t next_id_ = 1;
};

}  // namespace tollgate::tools
