// tollgate::Client over CurveZMQ against the real tollgated: a listed key
// calls, only an admin key may reset or set a limit (others get
// unauthorized), an unlisted key is refused at the handshake (a client
// timeout), and with restrict_agents an unknown agent gets unknown_agent.
#include <catch2/catch.hpp>

#include <zmq.h>

#include <fstream>

#include "clients/cpp/tests/client_fixture.h"

using namespace tollgate;
using namespace tollgate::client_test;

namespace {

struct Pair {
  std::string pub, sec;
};

Pair keypair() {
  char pub[41], sec[41];
  REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

// A daemon with a server key, one plain and one admin client key, and only
// the agent kAgent allowed.
struct CurveStack {
  CurveStack() : stack(env(), {"--config", dir.path() + "/tollgate.toml"}) {}
  testing::Env env() {
    write_file(dir.path() + "/server.key", server.sec + "\n");
    write_file(dir.path() + "/clients", plain.pub + "\n" + admin.pub + " admin\n");
    write_file(dir.path() + "/tollgate.toml",
               std::string("restrict_agents = true\n[agents.") + kAgent + "]\n");
    return {{"TOLLGATE_CURVE_SECRET_KEY_FILE", dir.path() + "/server.key"},
            {"TOLLGATE_CURVE_CLIENTS_FILE", dir.path() + "/clients"}};
  }
  Client client(const Pair& keys, std::chrono::milliseconds timeout) const {
    Options o;
    o.timeout = timeout;
    o.server_key = server_public();
    o.client_public = keys.pub;
    o.client_secret = keys.sec;
    return Client(stack.daemon.requests(), o);
  }
  std::string server_public() const {
    char pub[41];
    REQUIRE(zmq_curve_public(pub, server.sec.c_str()) == 0);
    return pub;
  }
  testing::TempDir dir;
  Pair server = keypair(), plain = keypair(), admin = keypair();
  Stack stack;
};

}  // namespace

TEST_CASE("the C++ client calls over CurveZMQ and only an admin key may reset") {
  CurveStack s;
  Client plain = s.client(s.plain, scaled(10s));
  auto call = plain.call(prompt_call("over curve"));
  REQUIRE(call.ok());
  CHECK(call->text == "echo: over curve");

  auto reset = plain.reset(kAgent);
  REQUIRE_FALSE(reset.ok());
  CHECK(reset.error().code == "unauthorized");
  auto limit = plain.set_limit(kAgent, "openai", 10);
  REQUIRE_FALSE(limit.ok());
  CHECK(limit.error().code == "unauthorized");

  Client admin = s.client(s.admin, scaled(10s));
  auto done = admin.reset(kAgent);
  REQUIRE(done.ok());
  CHECK(done.value()["cleared"]["anthropic"].as_uint() == call->usage.total_tokens);
}

TEST_CASE("an agent not named in the configuration gets unknown_agent") {
  CurveStack s;
  Client plain = s.client(s.plain, scaled(10s));
  CallOptions o = prompt_call("who am I");
  o.ai_name = "stranger";
  auto r = plain.call(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "unknown_agent");
  CHECK(r.error().message.find("stranger") != std::string::npos);
}

TEST_CASE("an unlisted CurveZMQ key is refused and a bad key is a transport error") {
  CurveStack s;
  // Refused at the handshake: no reply ever comes (not scaled: expects none).
  Client stranger = s.client(keypair(), std::chrono::milliseconds(500));
  auto r = stranger.ping();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kClientTimeout);

  Options bad;
  bad.server_key = "too short";
  bad.client_public = s.plain.pub;
  bad.client_secret = s.plain.sec;
  Client broken(s.stack.daemon.requests(), bad);
  auto b = broken.ping();
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == kTransport);
  CHECK(b.error().message.find("server_key") != std::string::npos);
}
