// CurveZMQ access control (PROTOCOL.md section 6) against the real
// tollgated: allowed keys get answers and events, unknown keys and plain
// clients get nothing (and the refusal is logged), only admin keys may
// reset, keys allow a non-loopback bind, bad key files stop start-up, and
// tollctl's keygen/--key/--server-key work end to end. Every wait is a
// bounded poll on a socket or on process output.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "daemon/server/curve_keys.h"
#include "protocol/json_bridge.h"
#include "tests/integration/call_harness.h"

using nlohmann::json;
using tollgate::testing::bin_dir;
using tollgate::testing::ChildProcess;
using tollgate::testing::Env;
using tollgate::testing::TempDir;
using tollgate::testing::TollgatedProcess;
using tollgate::testing::scaled;

namespace {

// Bound on an answer or exit that must come (stretched under sanitizers).
const std::chrono::milliseconds kAnswer = scaled(std::chrono::milliseconds(10000));
// A loopback CURVE handshake takes a few milliseconds; this is ample.
constexpr std::chrono::milliseconds kNoAnswer{1500};

using tollgate::curve::KeyPair;

KeyPair keypair() {
  auto pair = tollgate::curve::generate_key_pair();
  REQUIRE(pair.ok());
  return *pair;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

// Server key, one plain client key, one admin key, the files naming them,
// and the environment that turns CurveZMQ on.
struct CurveSetup {
  TempDir dir;
  KeyPair server = keypair();
  KeyPair client = keypair();
  KeyPair admin = keypair();
  std::string secret_file = dir.path() + "/server.key";
  std::string clients_file = dir.path() + "/clients";

  CurveSetup() {
    write_file(secret_file, server.secret_z85 + "\n");
    write_file(clients_file, "# tollgate clients\n\n" + client.public_z85 + "\n" + admin.public_z85 + " admin\n");
  }
  Env env() const {
    return {{"TOLLGATE_CURVE_SECRET_KEY_FILE", secret_file}, {"TOLLGATE_CURVE_CLIENTS_FILE", clients_file}};
  }
};

// A socket of `type` connected to `endpoint`, a CURVE client when `keys`.
zmq::socket_t connect(zmq::context_t& ctx, zmq::socket_type type, const std::string& endpoint,
                      const std::string& server_public, const std::optional<KeyPair>& keys) {
  zmq::socket_t s(ctx, type);
  s.set(zmq::sockopt::linger, 0);
  if (keys) {
    s.set(zmq::sockopt::curve_serverkey, server_public);
    s.set(zmq::sockopt::curve_publickey, keys->public_z85);
    s.set(zmq::sockopt::curve_secretkey, keys->secret_z85);
  }
  if (type == zmq::socket_type::sub) s.set(zmq::sockopt::subscribe, "");
  s.connect(endpoint);
  return s;
}

// Sends `body` on a DEALER and waits up to `timeout` for its reply.
std::optional<json> request(zmq::socket_t& dealer, json body, std::chrono::milliseconds timeout) {
  static int64_t next_id = 1;
  const int64_t id = next_id++;
  body["id"] = id;
  const auto bytes = tollgate::protocol::from_json(body);
  dealer.send(zmq::buffer(bytes), zmq::send_flags::none);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t m;
    REQUIRE(dealer.recv(m));
    auto reply = tollgate::protocol::to_json(m.to_string());
    REQUIRE(reply.ok());
    if ((*reply)["id"] == id) return *reply;
  }
}

// Topic of the next event on `sub`, if one arrives within `timeout`.
std::optional<std::string> next_topic(zmq::socket_t& sub, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
  zmq::message_t topic, body;
  REQUIRE(sub.recv(topic));
  REQUIRE(sub.recv(body));
  return topic.to_string();
}

const json kPing = {{"op", "ping"}};
const json kResetBob = {{"op", "reset"}, {"ai_name", "bob"}, {"force", true}};

}  // namespace

TEST_CASE("an allowed key gets answers and an unknown key gets none and is logged") {
  CurveSetup keys;
  TollgatedProcess d(keys.env());
  CHECK(d.process().output().find(keys.server.secret_z85) == std::string::npos);
  zmq::context_t ctx(1);
  auto ok = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, keys.client);
  auto pong = request(ok, kPing, kAnswer);
  REQUIRE(pong.has_value());
  CHECK((*pong)["ok"] == true);
  auto usage = request(ok, {{"op", "usage"}, {"ai_name", "alice"}}, kAnswer);
  REQUIRE(usage.has_value());
  CHECK((*usage)["ok"] == true);
  CHECK((*usage)["ai_name"] == "alice");

  const KeyPair stranger = keypair();
  auto refused = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, stranger);
  CHECK_FALSE(request(refused, kPing, kNoAnswer).has_value());
  auto line = d.process().wait_for_line("refused unknown client key " + stranger.public_z85.substr(0, 8),
                                        kAnswer);
  INFO("tollgated output:\n" << d.process().output());
  REQUIRE(line.has_value());
  CHECK(line->find("warn") != std::string::npos);
  CHECK(line->find("127.0.0.1") != std::string::npos);
  CHECK(line->find(stranger.public_z85) == std::string::npos);
}

TEST_CASE("a client without CurveZMQ gets no answer from a daemon with keys") {
  CurveSetup keys;
  TollgatedProcess d(keys.env());
  zmq::context_t ctx(1);
  auto plain = connect(ctx, zmq::socket_type::dealer, d.requests(), "", std::nullopt);
  CHECK_FALSE(request(plain, kPing, kNoAnswer).has_value());
  // The same daemon still answers an allowed key.
  auto ok = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, keys.client);
  CHECK(request(ok, kPing, kAnswer).has_value());
}

TEST_CASE("only an admin key may reset and others get unauthorized") {
  CurveSetup keys;
  TollgatedProcess d(keys.env());
  zmq::context_t ctx(1);
  auto client = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, keys.client);
  auto denied = request(client, kResetBob, kAnswer);
  REQUIRE(denied.has_value());
  CHECK((*denied)["ok"] == false);
  CHECK((*denied)["error"]["code"] == "unauthorized");
  // A field the client sends cannot make it admin.
  json sneaky = kResetBob;
  sneaky["role"] = "admin";
  sneaky["User-Id"] = "admin";
  auto still_denied = request(client, sneaky, kAnswer);
  REQUIRE(still_denied.has_value());
  CHECK((*still_denied)["error"]["code"] == "unauthorized");

  auto admin = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, keys.admin);
  auto done = request(admin, kResetBob, kAnswer);
  REQUIRE(done.has_value());
  CHECK((*done)["ok"] == true);
  CHECK((*done)["ai_name"] == "bob");
}

TEST_CASE("without keys every client may reset") {
  TollgatedProcess d;
  zmq::context_t ctx(1);
  auto plain = connect(ctx, zmq::socket_type::dealer, d.requests(), "", std::nullopt);
  auto done = request(plain, kResetBob, kAnswer);
  REQUIRE(done.has_value());
  CHECK((*done)["ok"] == true);
}

TEST_CASE("an allowed subscriber receives events and an unknown one receives nothing") {
  CurveSetup keys;
  TollgatedProcess d(keys.env());
  zmq::context_t ctx(1);
  auto allowed = connect(ctx, zmq::socket_type::sub, d.events(), keys.server.public_z85, keys.client);
  auto unknown = connect(ctx, zmq::socket_type::sub, d.events(), keys.server.public_z85, keypair());
  auto plain = connect(ctx, zmq::socket_type::sub, d.events(), "", std::nullopt);
  auto admin = connect(ctx, zmq::socket_type::dealer, d.requests(), keys.server.public_z85, keys.admin);
  // Slow joiner: publish (reset) until the allowed subscriber sees one.
  std::optional<std::string> topic;
  for (int i = 0; i < 100 && !topic; ++i) {
    REQUIRE(request(admin, kResetBob, kAnswer).has_value());
    topic = next_topic(allowed, std::chrono::milliseconds(100));
  }
  REQUIRE(topic == std::optional<std::string>("ledger"));
  // Its handshake had as long as the allowed one's, and then some.
  REQUIRE(request(admin, kResetBob, kAnswer).has_value());
  CHECK(next_topic(allowed, kAnswer).has_value());
  CHECK_FALSE(next_topic(unknown, kNoAnswer).has_value());
  CHECK_FALSE(next_topic(plain, std::chrono::milliseconds(100)).has_value());
}

TEST_CASE("with keys a non-loopback bind is accepted and without it is refused") {
  CurveSetup keys;
  Env env = keys.env();
  env["TOLLGATE_LISTEN"] = "tcp://0.0.0.0:0";
  env["TOLLGATE_EVENTS"] = "tcp://*:0";
  TollgatedProcess d(env);
  const std::string port = d.requests().substr(d.requests().rfind(':') + 1);
  zmq::context_t ctx(1);
  auto ok = connect(ctx, zmq::socket_type::dealer, "tcp://127.0.0.1:" + port, keys.server.public_z85,
                    keys.client);
  CHECK(request(ok, kPing, kAnswer).has_value());

  TempDir data;
  ChildProcess refused(bin_dir() + "/tollgated", {},
                       {{"TOLLGATE_LISTEN", "tcp://0.0.0.0:0"}, {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
                        {"TOLLGATE_DATA_DIR", data.path()}, {"TOLLGATE_HTTP", "off"}});
  CHECK(refused.wait_exit(kAnswer).value_or(0) != 0);
  CHECK(refused.output().find("TOLLGATE_LISTEN=tcp://0.0.0.0:0") != std::string::npos);
}

TEST_CASE("a bad clients file stops start-up naming the file and line") {
  CurveSetup keys;
  write_file(keys.clients_file, keys.client.public_z85 + "\n" + keys.admin.public_z85 + " superuser\n");
  TempDir data;
  Env env = keys.env();
  env["TOLLGATE_DATA_DIR"] = data.path();
  env["TOLLGATE_HTTP"] = "off";
  ChildProcess p(bin_dir() + "/tollgated", {}, env);
  CHECK(p.wait_exit(kAnswer).value_or(0) != 0);
  const std::string out = p.output();
  INFO(out);
  CHECK(out.find("TOLLGATE_CURVE_CLIENTS_FILE=" + keys.clients_file + " line 2:") != std::string::npos);
  CHECK(out.find("'superuser'") != std::string::npos);
  CHECK(out.find(keys.server.secret_z85) == std::string::npos);

  ChildProcess check(bin_dir() + "/tollgated", {"--check-config"}, env);
  CHECK(check.wait_exit(kAnswer).value_or(0) == 2);
  CHECK(check.output().find(" line 2:") != std::string::npos);
}

TEST_CASE("a bad secret key file or a missing clients file stops start-up") {
  CurveSetup keys;
  TempDir data;
  Env env = keys.env();
  env["TOLLGATE_DATA_DIR"] = data.path();
  env["TOLLGATE_HTTP"] = "off";
  write_file(keys.secret_file, keys.server.secret_z85.substr(0, 39) + "\n");
  ChildProcess short_key(bin_dir() + "/tollgated", {}, env);
  CHECK(short_key.wait_exit(kAnswer).value_or(0) != 0);
  CHECK(short_key.output().find("TOLLGATE_CURVE_SECRET_KEY_FILE=" + keys.secret_file + " line 1:") !=
        std::string::npos);
  CHECK(short_key.output().find(keys.server.secret_z85.substr(0, 39)) == std::string::npos);

  write_file(keys.secret_file, keys.server.secret_z85 + "\n");
  env.erase("TOLLGATE_CURVE_CLIENTS_FILE");
  ChildProcess no_clients(bin_dir() + "/tollgated", {}, env);
  CHECK(no_clients.wait_exit(kAnswer).value_or(0) != 0);
  CHECK(no_clients.output().find("needs TOLLGATE_CURVE_CLIENTS_FILE") != std::string::npos);
}

TEST_CASE("tollctl keygen makes keys that tollctl and the daemon use") {
  TempDir dir;
  const std::string server_key = dir.path() + "/server.key", client_key = dir.path() + "/agent.key",
                    admin_key = dir.path() + "/admin.key";
  for (const auto& out : {server_key, client_key, admin_key}) {
    ChildProcess gen(bin_dir() + "/tollctl", {"keygen", "--out", out}, {});
    REQUIRE(gen.wait_exit(kAnswer) == std::optional<int>(0));
    struct stat st {};
    REQUIRE(::stat(out.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  ChildProcess again(bin_dir() + "/tollctl", {"keygen", "--out", server_key}, {});
  CHECK(again.wait_exit(kAnswer) == std::optional<int>(2));

  auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  write_file(dir.path() + "/clients",
             first_line(client_key + ".pub") + "\n" + first_line(admin_key + ".pub") + " admin\n");
  TollgatedProcess d({{"TOLLGATE_CURVE_SECRET_KEY_FILE", server_key},
                      {"TOLLGATE_CURVE_CLIENTS_FILE", dir.path() + "/clients"}});
  auto tollctl = [&](const std::string& key, std::vector<std::string> args, Env env = {}) {
    std::vector<std::string> all = {"--endpoint", d.requests(), "--events", d.events(), "--timeout",
                                    std::to_string(scaled(std::chrono::milliseconds(3000)).count()),
                                    "--key", key};
    all.insert(all.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(bin_dir() + "/tollctl", all, env);
  };
  auto ping = tollctl(client_key, {"--server-key", server_key + ".pub", "ping"});
  CHECK(ping->wait_exit(kAnswer) == std::optional<int>(0));
  auto reset = tollctl(client_key, {"reset", "bob", "--yes", "--force"},
                       {{"TOLLGATE_CURVE_SERVER_KEY", first_line(server_key + ".pub")}});
  CHECK(reset->wait_exit(kAnswer) == std::optional<int>(1));
  CHECK(reset->output().find("unauthorized") != std::string::npos);

  // Events through tollctl with the client key; the admin's resets publish.
  auto events = tollctl(client_key, {"--server-key", server_key + ".pub", "--json", "events", "--count", "1"});
  std::optional<std::string> line;
  for (int i = 0; i < 100 && !line; ++i) {
    auto admin_reset = tollctl(admin_key, {"--server-key", server_key + ".pub", "reset", "bob", "--yes", "--force"});
    REQUIRE(admin_reset->wait_exit(kAnswer) == std::optional<int>(0));
    line = events->wait_for_line("\"topic\":\"ledger\"", std::chrono::milliseconds(100));
  }
  CHECK(line.has_value());
  CHECK(events->wait_exit(kAnswer) == std::optional<int>(0));
}
