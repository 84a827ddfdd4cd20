#include "tools/tollctl/client.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "tools/tollctl/render.h"

namespace tollgate::tools {

using Clock = std::chrono::steady_clock;

Client::Client(zmq::context_t& context, const std::string& endpoint,
               const std::optional<CurveClientKeys>& curve)
    : socket_(context, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::linger, 0);
  if (curve) apply_client_keys(socket_, *curve);
  socket_.connect(endpoint);
}

std::string Client::send(const protocol::RequestBody& body) {
  // Unique across tollctl runs, so the daemon's log lines of two runs can
  // be told apart: "tollctl-PID-N".
  std::string id = "tollctl-" + std::to_string(::getpid()) + "-" + std::to_string(next_id_++);
  auto bytes = protocol::encode_request(protocol::RequestId::from_string(id), body);
  socket_.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
  return id;
}

std::optional<nlohmann::json> Client::receive(const std::string& id, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
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

std::optional<nlohmann::json> Client::request(const protocol::RequestBody& body,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  return receive(send(body), deadline);
}

StreamEnd Client::stream(const protocol::CallRequest& call, const StreamWaits& waits,
                         const std::function<void(const nlohmann::json& part)>& on_part) {
  protocol::CallRequest streamed = call;
  streamed.stream = true;
  const auto end = Clock::now() + waits.total;
  const std::string id = send(streamed);
  StreamEnd out;
  while (true) {
    const auto next = Clock::now() + waits.between;
    out.stalled = out.parts > 0 && next < end;
    out.reply = receive(id, out.stalled ? next : end);
    if (!out.reply || !is_stream_part(*out.reply)) return out;
    ++out.parts;
    on_part(*out.reply);
  }
}

}  // namespace tollgate::tools
