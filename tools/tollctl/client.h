// A blocking request/reply client for tollgated over a DEALER socket, used by
// tollctl (and handy for scripts and tests). One thread per Client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "protocol/codec.h"
#include "tools/tollctl/curve_client.h"

namespace tollgate::tools {

class Client {
 public:
  // With `curve`, the socket is a CurveZMQ client with those keys.
  Client(zmq::context_t& context, const std::string& endpoint,
         const std::optional<CurveClientKeys>& curve = std::nullopt);

  // Sends one request and waits up to `timeout` for its reply (matched by
  // id). nullopt when no reply came in time.
  std::optional<nlohmann::json> request(const protocol::RequestBody& body,
                                        std::chrono::milliseconds timeout);

 private:
  zmq::socket_t socket_;
  int64_t next_id_ = 1;
};

}  // namespace tollgate::tools
