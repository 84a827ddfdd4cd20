#include "tools/tollctl/client.h"

#include <unistd.h>

#include <string>

namespace tollgate::tools {

Client::Client(zmq::context_t& context, const std::string& endpoint,
               const std::optional<CurveClientKeys>& curve)
    : socket_(context, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::linger, 0);
  if (curve) apply_client_keys(socket_, *curve);
  socket_.connect(endpoint);
}

std::optional<nlohmann::json> Client::request(const protocol::RequestBody& body,
                                              std::chrono::milliseconds timeout) {
  // Unique across tollctl runs, so the daemon's log lines of two runs can
  // be told apart: "tollctl-PID-N".
  const std::string id = "tollctl-" + std::to_string(::getpid()) + "-" + std::to_string(next_id_++);
  auto bytes = protocol::encode_request(protocol::RequestId::from_string(id), body);
  socket_.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t frame;
    std::string last;
    do {
      (void)socket_.recv(frame);
      last = frame.to_string();
    } while (frame.more());
    auto json = protocol::to_json(last);
    if (!json) continue;
    if ((*json).contains("id") && (*json)["id"] == id) return *json;
  }
}

}  // namespace tollgate::tools
