// The ZAP handler and CURVE server socket setup, in process: who gets
// through the handshake, which role the request carries, and that a stopped
// handler lets nobody in (fail closed). Real sockets on loopback; every
// wait is a bounded poll.

#include <zmq.h>

#include <catch2/catch.hpp>
#include <optional>
#include <zmq_addon.hpp>

#include "daemon/server/curve_keys.h"
#include "daemon/server/zap_handler.h"

using namespace tollgate::curve;

namespace {

constexpr std::chrono::milliseconds kArrives{5000};
// Long enough for a loopback CURVE handshake to finish many times over.
constexpr std::chrono::milliseconds kNeverArrives{1500};

using tollgate::curve::KeyPair;

KeyPair keypair() {
  auto pair = tollgate::curve::generate_key_pair();
  REQUIRE(pair.ok());
  return *pair;
}

// A CURVE ROUTER behind a ZapHandler, bound on an ephemeral loopback port.
struct GuardedRouter {
  zmq::context_t ctx{1};
  KeyPair server = keypair();
  KeyPair client = keypair();
  KeyPair admin = keypair();
  std::unique_ptr<ZapHandler> zap;
  zmq::socket_t router{ctx, zmq::socket_type::router};
  std::string endpoint;

  GuardedRouter() {
    ClientList clients;
    clients.keys[client.public_z85] = ClientRole::kClient;
    clients.keys[admin.public_z85] = ClientRole::kAdmin;
    auto started = ZapHandler::start(ctx, clients);
    REQUIRE(started.ok());
    zap = std::move(*started);
    router.set(zmq::sockopt::linger, 0);
    REQUIRE(make_curve_server(router, ServerKey{server.secret_z85, server.public_z85}).ok());
    router.bind("tcp://127.0.0.1:*");
    endpoint = router.get(zmq::sockopt::last_endpoint);
  }

  // A DEALER that sends "hello"; with `keys`, as a CURVE client.
  zmq::socket_t client_socket(const std::optional<KeyPair>& keys) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (keys) {
      s.set(zmq::sockopt::curve_serverkey, server.public_z85);
      s.set(zmq::sockopt::curve_publickey, keys->public_z85);
      s.set(zmq::sockopt::curve_secretkey, keys->secret_z85);
    }
    s.connect(endpoint);
    s.send(zmq::str_buffer("hello"), zmq::send_flags::none);
    return s;
  }

  // The User-Id of the next request body, or nullopt if none came in time.
  std::optional<std::string> receive_user_id(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, timeout);
    if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
    std::vector<zmq::message_t> frames;
    REQUIRE(zmq::recv_multipart(router, std::back_inserter(frames)));
    REQUIRE(frames.size() == 2);
    CHECK(frames[1].to_string() == "hello");
    const char* user_id = zmq_msg_gets(frames[1].handle(), "User-Id");
    return std::string(user_id ? user_id : "");
  }
};

}  // namespace

TEST_CASE("an allowed key gets through and carries its role as User-Id") {
  GuardedRouter g;
  auto c = g.client_socket(g.client);
  CHECK(g.receive_user_id(kArrives) == std::optional<std::string>("client"));
  auto a = g.client_socket(g.admin);
  CHECK(g.receive_user_id(kArrives) == std::optional<std::string>("admin"));
}

TEST_CASE("an unknown key never reaches the server socket") {
  GuardedRouter g;
  auto stranger = g.client_socket(keypair());
  CHECK_FALSE(g.receive_user_id(kNeverArrives).has_value());
}

TEST_CASE("a client without CurveZMQ never reaches the server socket") {
  GuardedRouter g;
  auto plain = g.client_socket(std::nullopt);
  CHECK_FALSE(g.receive_user_id(kNeverArrives).has_value());
}

TEST_CASE("a client that knows the wrong server key never gets through") {
  GuardedRouter g;
  zmq::socket_t s(g.ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, keypair().public_z85);
  s.set(zmq::sockopt::curve_publickey, g.admin.public_z85);
  s.set(zmq::sockopt::curve_secretkey, g.admin.secret_z85);
  s.connect(g.endpoint);
  s.send(zmq::str_buffer("hello"), zmq::send_flags::none);
  CHECK_FALSE(g.receive_user_id(kNeverArrives).has_value());
}

TEST_CASE("with the ZAP handler stopped an allowed key does not get in") {
  GuardedRouter g;
  // Control: the same key gets in while the handler runs.
  auto before = g.client_socket(g.admin);
  REQUIRE(g.receive_user_id(kArrives) == std::optional<std::string>("admin"));
  g.zap->stop();
  auto after = g.client_socket(g.admin);
  CHECK_FALSE(g.receive_user_id(kNeverArrives).has_value());
}

TEST_CASE("a second ZAP handler in the same context is refused") {
  GuardedRouter g;
  ClientList clients;
  clients.keys[g.client.public_z85] = ClientRole::kClient;
  auto second = ZapHandler::start(g.ctx, clients);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message.find("zeromq.zap.01") != std::string::npos);
}
