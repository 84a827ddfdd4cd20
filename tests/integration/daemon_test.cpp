// The real tollgated process: envelopes, ping, hostile input, shutdown,
// start-up errors.
#include <catch2/catch.hpp>

#include <sched.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>
#include <random>
#include <zmq.hpp>

#include "protocol/codec.h"
#include "tests/integration/tollgated_process.h"

using namespace std::chrono_literals;
using tollgate::testing::ChildProcess;
using tollgate::testing::TollgatedProcess;
namespace protocol = tollgate::protocol;
using Env = std::map<std::string, std::string>;

namespace {

std::string ping_body(int64_t id) {
  return protocol::encode_request(protocol::RequestId::from_int(id), protocol::PingRequest{});
}

// Receives all frames of one message, waiting at most `timeout`.
std::vector<std::string> recv_all(zmq::socket_t& s, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  std::vector<std::string> frames;
  if (!(item.revents & ZMQ_POLLIN)) return frames;
  zmq::message_t m;
  do {
    (void)s.recv(m);
    frames.push_back(m.to_string());
  } while (m.more());
  return frames;
}

nlohmann::json decode(const std::string& body) {
  auto j = protocol::to_json(body);
  REQUIRE(j.ok());
  return *j;
}

zmq::socket_t dealer(zmq::context_t& ctx, const std::string& ep) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(ep);
  return s;
}

}  // namespace

TEST_CASE("ping answers over a REQ socket") {
  TollgatedProcess d;
  zmq::context_t ctx;
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect(d.requests());
  req.send(zmq::buffer(ping_body(7)));
  auto frames = recv_all(req, 5s);
  REQUIRE(frames.size() == 1);
  auto reply = decode(frames[0]);
  CHECK(reply["ok"] == true);
  CHECK(reply["v"] == 1);
  CHECK(reply["id"] == 7);
  CHECK(reply["version"] == TOLLGATE_VERSION);
  CHECK(reply["pid"] == d.process().pid());
  CHECK(reply["uptime_ms"].is_number_unsigned());
}

TEST_CASE("a DEALER gets its reply with and without the empty delimiter frame") {
  TollgatedProcess d;
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  s.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  s.send(zmq::buffer(ping_body(1)));
  auto with_empty = recv_all(s, 5s);
  REQUIRE(with_empty.size() == 2);
  CHECK(with_empty[0].empty());
  CHECK(decode(with_empty[1])["id"] == 1);

  s.send(zmq::buffer(ping_body(2)));
  auto bare = recv_all(s, 5s);
  REQUIRE(bare.size() == 1);
  CHECK(decode(bare[0])["id"] == 2);
}

TEST_CASE("a string id is echoed verbatim") {
  TollgatedProcess d;
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  nlohmann::json req = {{"op", "ping"}, {"id", "req-\xc3\xa9-42"}};
  s.send(zmq::buffer(protocol::from_json(req)));
  auto frames = recv_all(s, 5s);
  REQUIRE(frames.size() == 1);
  CHECK(decode(frames[0])["id"] == "req-\xc3\xa9-42");
}

TEST_CASE("extra body frames and empty bodies get bad_request") {
  TollgatedProcess d;
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  s.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  s.send(zmq::buffer(ping_body(1)), zmq::send_flags::sndmore);
  s.send(zmq::buffer(ping_body(2)));
  auto two = recv_all(s, 5s);
  REQUIRE(two.size() == 2);
  auto r = decode(two[1]);
  CHECK(r["ok"] == false);
  CHECK(r["error"]["code"] == "bad_request");
  CHECK(r["id"].is_null());

  s.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  s.send(zmq::str_buffer(""));
  auto empty = recv_all(s, 5s);
  REQUIRE(empty.size() == 2);
  CHECK(decode(empty[1])["error"]["code"] == "bad_request");
}

TEST_CASE("a body over max_request_bytes gets too_large") {
  TollgatedProcess d(Env{{"TOLLGATE_MAX_REQUEST_BYTES", "1024"}});
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  nlohmann::json req = {{"op", "ping"}, {"id", 3}, {"pad", std::string(2000, 'x')}};
  s.send(zmq::buffer(protocol::from_json(req)));
  auto frames = recv_all(s, 5s);
  REQUIRE(frames.size() == 1);
  CHECK(decode(frames[0])["error"]["code"] == "too_large");
}

TEST_CASE("an unknown op gets unknown_op") {
  TollgatedProcess d;
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  nlohmann::json unknown = {{"op", "launch_missiles"}, {"id", 5}};
  s.send(zmq::buffer(protocol::from_json(unknown)));
  auto u = recv_all(s, 5s);
  REQUIRE(u.size() == 1);
  CHECK(decode(u[0])["error"]["code"] == "unknown_op");
}

TEST_CASE("random and mutated bodies all get answers and the daemon keeps serving") {
  TollgatedProcess d;
  zmq::context_t ctx;
  auto s = dealer(ctx, d.requests());
  std::mt19937_64 rng(20261126);
  const std::string valid = protocol::encode_request(
      protocol::RequestId::from_int(9),
      protocol::CallRequest{.ai_name = "imperium", .prompt = std::string("hello there")});
  constexpr int kBodies = 20000;
  constexpr int kWindow = 200;  // requests in flight
  int sent = 0;
  int answered = 0;
  auto next_body = [&](int i) {
    std::string body;
    if (i % 2 == 0) {
      body.resize(1 + rng() % 64);
      for (auto& c : body) c = static_cast<char>(rng());
    } else {
      body = valid;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) body[rng() % body.size()] = static_cast<char>(rng());
      if (rng() % 4 == 0) body.resize(rng() % body.size() + 1);
    }
    return body;
  };
  while (answered < kBodies) {
    while (sent < kBodies && sent - answered < kWindow) {
      s.send(zmq::buffer(next_body(sent++)));
    }
    auto frames = recv_all(s, 10s);
    REQUIRE(frames.size() == 1);
    auto reply = protocol::to_json(frames[0]);
    REQUIRE(reply.ok());
    CHECK(reply->contains("ok"));
    ++answered;
  }
  s.send(zmq::buffer(ping_body(123456)));
  auto frames = recv_all(s, 5s);
  REQUIRE(frames.size() == 1);
  CHECK(decode(frames[0])["id"] == 123456);
}

TEST_CASE("SIGTERM stops an idle daemon with exit status 0") {
  TollgatedProcess d;
  d.process().signal(SIGTERM);
  auto status = d.process().wait_exit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

namespace {

// The scheduling policy of each of PID's threads, by thread name.
std::multimap<std::string, int> thread_policies(pid_t pid) {
  std::multimap<std::string, int> out;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    out.emplace(name, sched_getscheduler(std::stoi(task.path().filename().string())));
  }
  return out;
}

}  // namespace

TEST_CASE("every thread of the daemon runs under SCHED_BATCH unless TOLLGATE_SCHED_BATCH is false") {
  REQUIRE(sched_getscheduler(0) != SCHED_BATCH);  // or false could not be told from true
  for (const bool batch : {true, false}) {
    Env env{{"TOLLGATE_WORKERS", "2"}, {"TOLLGATE_HTTP", "127.0.0.1:0"}};
    if (!batch) env["TOLLGATE_SCHED_BATCH"] = "false";
    TollgatedProcess d(env);
    const auto policies = thread_policies(d.process().pid());
    INFO("TOLLGATE_SCHED_BATCH " << batch);
    // The loop, ZeroMQ's I/O thread, the workers, the ledger's writer (ours
    // are named before the ready line; libzmq names its thread when it first
    // runs, which is before the ledger's first flush lets the main thread
    // wait).
    CHECK(policies.count("tollgated") >= 1);  // the loop, and the HTTP listener's threads
    CHECK(policies.count("ZMQbg/IO/0") == 1);
    CHECK(policies.count("tg-worker-0") + policies.count("tg-worker-1") == 2);
    CHECK(policies.count("tg-ledger") == 1);
    for (const auto& [name, policy] : policies) {
      INFO(name);
      // false: the policy it was started with, this test's.
      CHECK(policy == (batch ? SCHED_BATCH : sched_getscheduler(0)));
    }
  }
}

TEST_CASE("the default worker count is the number of CPUs the daemon may run on") {
  cpu_set_t all;
  REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &all)) cpus.push_back(c);
  }
  // This thread's affinity is what the daemon forked from it inherits.
  auto workers_on = [&](size_t n) {
    cpu_set_t some;
    CPU_ZERO(&some);
    for (size_t i = 0; i < n; ++i) CPU_SET(cpus[i], &some);
    REQUIRE(sched_setaffinity(0, sizeof some, &some) == 0);
    size_t workers = 0;
    {
      TollgatedProcess d(Env{{"TOLLGATE_WORKERS", "0"}});
      for (const auto& [name, policy] : thread_policies(d.process().pid())) {
        workers += name.rfind("tg-worker-", 0) == 0;
      }
    }
    REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
    return workers;
  };
  CHECK(workers_on(1) == 1);
  if (cpus.size() >= 2) CHECK(workers_on(2) == 2);
}

TEST_CASE("a bad setting stops start-up with one line naming the variable") {
  ChildProcess p(tollgate::testing::bin_dir() + "/tollgated", {},
                 {{"OPENAI_FALLBACK_THRESHOLD", "1.7"}});
  auto status = p.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 2);
  CHECK(p.output().find("OPENAI_FALLBACK_THRESHOLD=1.7") != std::string::npos);
}

TEST_CASE("a non-loopback bind without CurveZMQ is refused at start") {
  ChildProcess p(tollgate::testing::bin_dir() + "/tollgated", {},
                 {{"TOLLGATE_LISTEN", "tcp://0.0.0.0:0"}, {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
                  {"TOLLGATE_HTTP", "off"}});
  auto status = p.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(*status != 0);
  CHECK(p.output().find("TOLLGATE_ALLOW_INSECURE_BIND") != std::string::npos);
}

TEST_CASE("check-config prints the configuration with keys redacted") {
  ChildProcess p(tollgate::testing::bin_dir() + "/tollgated", {"--check-config"},
                 {{"ANTHROPIC_API_KEY", "sk-ant-VISIBLE-SECRET"}});
  auto status = p.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  CHECK(p.output().find("VISIBLE-SECRET") == std::string::npos);
  CHECK(p.output().find("ANTHROPIC_API_KEY=(set, redacted)") != std::string::npos);

  ChildProcess bad(tollgate::testing::bin_dir() + "/tollgated", {"--check-config"},
                   {{"ANTHROPIC_MONTHLY_LIMIT", "lots"}});
  auto bad_status = bad.wait_exit(10s);
  REQUIRE(bad_status.has_value());
  CHECK(*bad_status == 2);
  CHECK(bad.output().find("ANTHROPIC_MONTHLY_LIMIT=lots") != std::string::npos);
}

TEST_CASE("an unknown command line option exits 2 with the usage line") {
  ChildProcess p(tollgate::testing::bin_dir() + "/tollgated", {"--chek-config"}, {});
  auto status = p.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(*status == 2);
  CHECK(p.output().find("--chek-config") != std::string::npos);
  CHECK(p.output().find("Usage: tollgated [OPTIONS]") != std::string::npos);
}

namespace {

struct ParityCase {
  const char* what;
  Env env;
  bool starts;  // what start-up does with it, to be sure the table covers both
  std::string says = "";  // in both outputs: the refusal's reason, or a warning
};

// The harness's environment (loopback endpoints on free ports, no HTTP, a
// fresh data directory) with `extra` on top.
Env parity_env(const std::string& data_dir, const Env& extra) {
  Env env = {{"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"},
             {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
             {"TOLLGATE_HTTP", "off"},
             {"TOLLGATE_DATA_DIR", data_dir}};
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

}  // namespace

TEST_CASE("check-config exits 0 exactly for the settings start-up accepts") {
  tollgate::testing::TempDir keys;
  const std::vector<ParityCase> cases = {
      {"the defaults", {}, true},
      {"a non-loopback request bind without CurveZMQ", {{"TOLLGATE_LISTEN", "tcp://0.0.0.0:0"}}, false,
       "TOLLGATE_ALLOW_INSECURE_BIND"},
      {"a non-loopback event bind without CurveZMQ", {{"TOLLGATE_EVENTS", "tcp://0.0.0.0:0"}}, false},
      {"a non-loopback bind allowed as insecure",
       {{"TOLLGATE_LISTEN", "tcp://0.0.0.0:0"}, {"TOLLGATE_ALLOW_INSECURE_BIND", "1"}}, true},
      {"a host name where ZeroMQ needs an address", {{"TOLLGATE_LISTEN", "tcp://localhost:0"}}, false,
       "use 127.0.0.1"},
      {"a port out of range", {{"TOLLGATE_LISTEN", "tcp://127.0.0.1:70000"}}, false},
      {"an endpoint without a port", {{"TOLLGATE_EVENTS", "tcp://127.0.0.1"}}, false},
      {"an IPv6 loopback endpoint", {{"TOLLGATE_LISTEN", "tcp://[::1]:0"}}, true},
      {"a network interface by name", {{"TOLLGATE_LISTEN", "tcp://lo:0"}, {"TOLLGATE_ALLOW_INSECURE_BIND", "1"}},
       true},
      {"an ipc endpoint in a missing directory", {{"TOLLGATE_LISTEN", "ipc:///nonexistent-tollgate/x.sock"}},
       false},
      {"an ipc endpoint in an existing directory", {{"TOLLGATE_LISTEN", "ipc://" + keys.path() + "/x.sock"}},
       true},
      {"a non-loopback HTTP listener", {{"TOLLGATE_HTTP", "0.0.0.0:0"}}, false},
      {"a loopback HTTP listener", {{"TOLLGATE_HTTP", "127.0.0.1:0"}}, true},
      {"one of the two CurveZMQ files", {{"TOLLGATE_CURVE_SECRET_KEY_FILE", keys.path() + "/none.key"}}, false},
      {"alert levels out of order", {{"ALERT_WARNING_THRESHOLD", "0.99"}}, false},
      {"a default max_tokens over the cap", {{"OPENAI_MAX_TOKENS", "20000"}}, false},
      {"a base URL that is not a URL", {{"ANTHROPIC_BASE_URL", "notaurl"}}, false},
      {"a misspelt variable, which only warns", {{"ANTHROPIC_MONTLY_LIMIT", "5"}}, true,
       "the closest known one is ANTHROPIC_MONTHLY_LIMIT"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    tollgate::testing::TempDir data;
    const Env env = parity_env(data.path(), c.env);
    ChildProcess check(tollgate::testing::bin_dir() + "/tollgated", {"--check-config"}, env);
    const auto check_status = check.wait_exit(tollgate::testing::scaled(10s));
    REQUIRE(check_status.has_value());

    ChildProcess start(tollgate::testing::bin_dir() + "/tollgated", {}, env);
    const bool ready = start.wait_for_line("ready requests=", tollgate::testing::scaled(20s)).has_value();
    if (ready) start.signal(SIGTERM);
    const auto start_status = start.wait_exit(tollgate::testing::scaled(10s));
    REQUIRE(start_status.has_value());
    INFO("check-config:\n" << check.output() << "start-up:\n" << start.output());
    CHECK(ready == c.starts);
    CHECK((*check_status == 0) == ready);
    CHECK(check.output().find(c.says) != std::string::npos);
    CHECK(start.output().find(c.says) != std::string::npos);
    if (!ready) {
      CHECK(*check_status == 2);
      CHECK(*start_status == 2);
      CHECK(check.output().find("start-up would refuse this configuration") != std::string::npos);
    }
  }
}

TEST_CASE("tollctl ping prints the version and fails when nobody answers") {
  TollgatedProcess d;
  ChildProcess ok(tollgate::testing::bin_dir() + "/tollctl", {"--endpoint", d.requests(), "ping"}, {});
  REQUIRE(ok.wait_exit(10s) == 0);
  CHECK(ok.output().find(std::string("tollgated ") + TOLLGATE_VERSION) != std::string::npos);

  ChildProcess none(tollgate::testing::bin_dir() + "/tollctl",
                    {"--endpoint", "tcp://127.0.0.1:1", "--timeout", "300", "ping"}, {});
  CHECK(none.wait_exit(10s) == 3);
}
