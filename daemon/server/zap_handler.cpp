#include "daemon/server/zap_handler.h"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <array>
#include <cerrno>
#include <cstdint>
#include <vector>

namespace tollgate::curve {

using protocol::Error;

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// ZMQ_ZAP_ENFORCE_DOMAIN: libzmq 4.3 defines it only under the draft API,
// but the library accepts it at run time.
constexpr int kZapEnforceDomain = 93;
constexpr size_t kCurveKeyBytes = 32;
// A client with a refused key reconnects every 100 ms; one warn line per
// key and address per interval is enough to act on.
constexpr std::chrono::seconds kRefusalLogInterval{10};
constexpr size_t kMaxRefusalLogEntries = 1024;

std::string frame_text(const zmq::message_t& m) { return m.to_string(); }

}  // namespace

protocol::Result<void> make_curve_server(zmq::socket_t& socket, const ServerKey& key) {
  try {
    socket.set(zmq::sockopt::zap_domain, kZapDomain);
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey, key.secret_z85);
  } catch (const zmq::error_t& e) {
    return Error::internal(std::string("CurveZMQ: cannot configure the socket: ") + e.what());
  }
  const int enforce = 1;
  if (zmq_setsockopt(socket.handle(), kZapEnforceDomain, &enforce, sizeof enforce) != 0) {
    // Without it a missing handler would let every key in: refuse to run.
    return Error::internal(std::string("CurveZMQ: this libzmq cannot enforce ZAP "
                                       "(ZMQ_ZAP_ENFORCE_DOMAIN): ") +
                           zmq_strerror(zmq_errno()));
  }
  return {};
}

ZapHandler::ZapHandler(zmq::context_t& context, ClientList clients)
    : clients_(std::move(clients)),
      zap_(context, zmq::socket_type::rep),
      stop_rx_(context, zmq::socket_type::pair),
      stop_tx_(context, zmq::socket_type::pair) {
  zap_.set(zmq::sockopt::linger, 0);
  stop_rx_.set(zmq::sockopt::linger, 0);
  stop_tx_.set(zmq::sockopt::linger, 0);
}

protocol::Result<std::unique_ptr<ZapHandler>> ZapHandler::start(zmq::context_t& context,
                                                                ClientList clients) {
  std::unique_ptr<ZapHandler> h(new ZapHandler(context, std::move(clients)));
  // The stop pair's name is unique per handler object (its address).
  const std::string stop_endpoint =
      "inproc://tollgate.zap.stop." + std::to_string(reinterpret_cast<std::uintptr_t>(h.get()));
  try {
    h->zap_.bind(kZapEndpoint);
    h->stop_rx_.bind(stop_endpoint);
    h->stop_tx_.connect(stop_endpoint);
  } catch (const zmq::error_t& e) {
    return Error::internal(std::string("CurveZMQ: cannot bind the ZAP handler on ") + kZapEndpoint +
                           ": " + e.what());
  }
  // The sockets move to the new thread; starting it is the memory barrier
  // ZeroMQ asks for when a socket changes threads.
  h->thread_ = std::jthread([raw = h.get()] { raw->serve(); });
  return h;
}

ZapHandler::~ZapHandler() { stop(); }

void ZapHandler::stop() {
  if (thread_.joinable()) {
    // The handler thread may already have ended; the message then just waits.
    (void)stop_tx_.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
    thread_.join();
  }
  // Closing unbinds the ZAP endpoint: with the domain enforced, libzmq now
  // refuses every handshake.
  zap_.close();
  stop_rx_.close();
  stop_tx_.close();
}

void ZapHandler::serve() {
  try {
    while (true) {
      std::array<zmq::pollitem_t, 2> items = {{{zap_.handle(), 0, ZMQ_POLLIN, 0},
                                               {stop_rx_.handle(), 0, ZMQ_POLLIN, 0}}};
      try {
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (items[1].revents & ZMQ_POLLIN) return;
      if (items[0].revents & ZMQ_POLLIN) answer_one();
    }
  } catch (const zmq::error_t& e) {
    // The socket stays bound but unanswered, so handshakes wait and fail:
    // closed, not open.
    spdlog::error("CurveZMQ: the ZAP handler stopped ({}); no client can connect until restart",
                  e.what());
  }
}

void ZapHandler::answer_one() {
  std::vector<zmq::message_t> request;
  (void)zmq::recv_multipart(zap_, std::back_inserter(request));
  // RFC 27: version, request id, domain, address, routing id, mechanism,
  // credentials...
  std::string status = "400", text = "refused", user_id, metadata;
  const std::string request_id = request.size() > 1 ? frame_text(request[1]) : std::string();
  if (request.size() < 6 || frame_text(request[0]) != "1.0") {
    status = "500";
    text = "malformed ZAP request";
    spdlog::error("CurveZMQ: malformed ZAP request ({} frames)", request.size());
  } else {
    const std::string domain = frame_text(request[2]);
    const std::string address = frame_text(request[3]);
    const std::string mechanism = frame_text(request[5]);
    if (domain != kZapDomain) {
      log_refusal("a client of an unknown ZAP domain", address);
    } else if (mechanism != "CURVE" || request.size() < 7 || request[6].size() != kCurveKeyBytes) {
      log_refusal("a " + mechanism + " client (only CURVE is allowed)", address);
    } else {
      std::array<char, kKeyTextLength + 1> z85{};
      zmq_z85_encode(z85.data(), static_cast<const uint8_t*>(request[6].data()), kCurveKeyBytes);
      const std::string key(z85.data(), kKeyTextLength);
      if (auto it = clients_.keys.find(key); it != clients_.keys.end()) {
        status = "200";
        text = "OK";
        user_id = std::string(role_name(it->second));
        metadata = zap_metadata(kKeyProperty, key);
        spdlog::debug("CurveZMQ: accepted {} key {} from {}", user_id, abbreviate_key(key), address);
      } else {
        log_refusal("unknown client key " + abbreviate_key(key), address);
      }
    }
  }
  std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                            zmq::buffer(status),      zmq::buffer(text),
                                            zmq::buffer(user_id),     zmq::buffer(metadata)};
  (void)zmq::send_multipart(zap_, reply);
}

void ZapHandler::log_refusal(const std::string& what, const std::string& address) {
  const auto now = std::chrono::steady_clock::now();
  const std::string id = what + " " + address;
  if (auto it = last_refusal_log_.find(id);
      it != last_refusal_log_.end() && now - it->second < kRefusalLogInterval) {
    return;
  }
  if (last_refusal_log_.size() >= kMaxRefusalLogEntries) last_refusal_log_.clear();
  last_refusal_log_[id] = now;
  spdlog::warn("CurveZMQ: refused {} from {}", what, address);
}

}  // namespace tollgate::curve
