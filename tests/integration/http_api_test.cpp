// The HTTP listener (PROTOCOL.md section 7) of a real tollgated: every
// status endpoint against the matching ZeroMQ op, the admin POSTs and their
// bearer token, errors as JSON with protocol codes, /metrics through
// promtool and against the ledger, /healthz and /readyz.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/integration/call_harness.h"

using namespace std::chrono_literals;
using namespace tollgate::testing;
using nlohmann::json;

namespace {

const std::string kApi = "/api/token-usage";
const std::string kToken = "test-admin-token-5f2c";

// "HOST:PORT" of the daemon's HTTP listener.
std::string http_address(TollgatedProcess& d) {
  REQUIRE(d.http() != "off");
  return d.http();
}

// A daemon with the HTTP listener on an ephemeral loopback port.
Env http_env(const FakeProviderProcess& fake, Env extra = {}) {
  return merge(merge(fake.provider_env(), {{"TOLLGATE_HTTP", "127.0.0.1:0"}}), extra);
}

class Http {
 public:
  explicit Http(const std::string& address) : client_("http://" + address) {
    client_.set_read_timeout(30, 0);
  }
  // Status and parsed JSON body (null when the body is not JSON).
  std::pair<int, json> get(const std::string& path) {
    auto res = client_.Get(path.c_str());
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  std::pair<int, json> post(const std::string& path, const std::string& body,
                            const std::string& token = {},
                            const std::string& content_type = "application/json") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = client_.Post(path.c_str(), headers, body, content_type.c_str());
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  std::string text(const std::string& path, int* status = nullptr) {
    auto res = client_.Get(path.c_str());
    REQUIRE(res);
    if (status) *status = res->status;
    return res->body;
  }

 private:
  httplib::Client client_;
};

json without_id(json reply) {
  reply.erase("id");
  return reply;
}

// The value of one sample line of a Prometheus text page, or -1.
double sample(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

}  // namespace

TEST_CASE("each HTTP status endpoint returns the same reply as the matching ZeroMQ op") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake, {{"ANTHROPIC_MONTHLY_LIMIT", "300"}, {"ANTHROPIC_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  // Real usage: alice past her warning threshold, bob a little.
  for (int i = 0; i < 22; ++i) REQUIRE(client.request(call_body("alice", "hello", 10))["ok"] == true);
  REQUIRE(client.request(call_body("bob", "hello", 10))["ok"] == true);
  // A reset of bob, for the ledger events and the cleared tokens in history.
  REQUIRE(client.request({{"op", "reset"}, {"ai_name", "bob"}})["ok"] == true);

  Http http(http_address(d));
  const std::vector<std::pair<std::string, json>> cases = {
      {"/summary", {{"op", "summary"}}},
      {"/ai/alice", {{"op", "usage"}, {"ai_name", "alice"}}},
      {"/provider-status", {{"op", "provider_status"}}},
      {"/provider-status/bob", {{"op", "provider_status"}, {"ai_name", "bob"}}},
      {"/emergency-status", {{"op", "emergency_status"}}},
      {"/alerts", {{"op", "alerts"}}},
      {"/alerts?limit=1&ai_name=alice", {{"op", "alerts"}, {"limit", 1}, {"ai_name", "alice"}}},
      {"/history/alice?months=3", {{"op", "history"}, {"ai_name", "alice"}, {"months", 3}}},
      {"/history/alice", {{"op", "history"}, {"ai_name", "alice"}}},
      {"/recommend/alice", {{"op", "recommend"}, {"ai_name", "alice"}}},
      {"/history/bob", {{"op", "history"}, {"ai_name", "bob"}}},
      {"/ledger-events", {{"op", "ledger_events"}}},
      {"/ledger-events?limit=1&since_ms=0", {{"op", "ledger_events"}, {"limit", 1}, {"since_ms", 0}}},
  };
  for (const auto& [path, op] : cases) {
    INFO("GET " << kApi << path);
    auto [status, body] = http.get(kApi + path);
    auto zmq_reply = client.request(op);
    CHECK(status == 200);
    CHECK(body["ok"] == true);
    CHECK(without_id(body) == without_id(zmq_reply));
  }
  // The numbers are the ledger's: alice's usage is what her calls charged.
  auto [status, usage] = http.get(kApi + "/ai/alice");
  REQUIRE(status == 200);
  CHECK(usage["providers"]["anthropic"]["used"].get<uint64_t>() > 240);  // past 80% of 300
  CHECK(usage["level"] != "normal");
  auto [astatus, alerts] = http.get(kApi + "/alerts?ai_name=alice");
  REQUIRE(astatus == 200);
  REQUIRE_FALSE(alerts["alerts"].empty());
  CHECK(alerts["alerts"][0]["ai_name"] == "alice");
  // Bob's reset: listed as a ledger event and kept in his history.
  auto [lstatus, events] = http.get(kApi + "/ledger-events");
  REQUIRE(lstatus == 200);
  REQUIRE(events["events"].size() == 1);
  CHECK(events["events"][0]["kind"] == "reset");
  CHECK(events["events"][0]["ai_name"] == "bob");
  const auto cleared = events["events"][0]["cleared"]["anthropic"].get<uint64_t>();
  CHECK(cleared > 0);
  auto [hstatus, history] = http.get(kApi + "/history/bob?months=1");
  REQUIRE(hstatus == 200);
  CHECK(history["months"][0]["providers"]["anthropic"] == json{{"used", 0}, {"requests", 1}, {"cleared", cleared}});
}

TEST_CASE("bad paths and parameters get JSON errors with protocol codes and HTTP statuses") {
  FakeProviderProcess fake;
  TempDir dir;
  const std::string toml = dir.path() + "/tollgate.toml";
  std::ofstream(toml) << "restrict_agents = true\n[agents.alice]\nanthropic = 1000\n";
  TollgatedProcess d(http_env(fake), {"--config", toml});
  Http http(http_address(d));
  struct Case {
    std::string path;
    int status;
    std::string code;
    std::string names;  // the message names this
  };
  const std::vector<Case> cases = {
      {"/nope", 404, "unknown_op", "/api/token-usage/nope"},
      {"/ai/mallory", 404, "unknown_agent", "mallory"},
      {"/ai/bad%20name", 400, "bad_request", "ai_name"},
      {"/history/alice?months=abc", 400, "bad_request", "months"},
      {"/history/alice?months=0", 400, "bad_request", "months"},
      {"/history/alice?months=121", 400, "bad_request", "months"},
      {"/alerts?limit=-1", 400, "bad_request", "limit"},
      {"/alerts?since_ms=x", 400, "bad_request", "since_ms"},
      {"/alerts?colour=red", 400, "bad_request", "colour"},
      {"/summary?x=1", 400, "bad_request", "'x'"},
      {"/ledger-events?limit=0", 400, "bad_request", "limit"},
      {"/ledger-events?since_ms=-5", 400, "bad_request", "since_ms"},
      {"/ledger-events?ai_name=alice", 400, "bad_request", "ai_name"},
  };
  for (const auto& c : cases) {
    INFO("GET " << kApi << c.path);
    auto [status, body] = http.get(kApi + c.path);
    CHECK(status == c.status);
    REQUIRE(body.is_object());
    CHECK(body["ok"] == false);
    CHECK(body["error"]["code"] == c.code);
    CHECK(body["error"]["message"].get<std::string>().find(c.names) != std::string::npos);
  }
  auto [status, body] = http.get("/no/such/page");
  CHECK(status == 404);
  CHECK(body["error"]["code"] == "unknown_op");
}

TEST_CASE("admin POSTs answer 403 when no admin token is configured") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake));
  Http http(http_address(d));
  for (const std::string path : {"/test-ai-call", "/reset/alice"}) {
    INFO("POST " << path);
    auto [status, body] = http.post(kApi + path, R"({"ai_name":"alice","prompt":"hi"})", "anything");
    CHECK(status == 403);
    CHECK(body["error"]["code"] == "unauthorized");
    CHECK(body["error"]["message"].get<std::string>().find("TOLLGATE_HTTP_ADMIN_TOKEN") != std::string::npos);
  }
  CHECK(fake.stats()["anthropic"]["requests"].get<uint64_t>() == 0);
}

TEST_CASE("test-ai-call and reset need the bearer token and act like the ZeroMQ ops") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake, {{"TOLLGATE_HTTP_ADMIN_TOKEN", kToken}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  EventCollector events(ctx, d.events());
  events.sync(client);
  Http http(http_address(d));
  const std::string call = R"({"ai_name":"alice","prompt":"hello from http"})";

  auto [no_token, refused] = http.post(kApi + "/test-ai-call", call);
  CHECK(no_token == 401);
  CHECK(refused["error"]["code"] == "unauthorized");
  auto [wrong_token, refused2] = http.post(kApi + "/test-ai-call", call, kToken + "x");
  CHECK(wrong_token == 401);
  CHECK(fake.stats()["anthropic"]["requests"].get<uint64_t>() == 0);

  auto [status, reply] = http.post(kApi + "/test-ai-call", call, kToken);
  INFO(reply.dump());
  REQUIRE(status == 200);
  REQUIRE(reply["ok"] == true);
  CHECK(reply["provider"] == "anthropic");
  CHECK(reply["text"] == "echo: hello from http");
  const auto charged = reply["usage"]["total_tokens"].get<uint64_t>();
  auto usage = client.request({{"op", "usage"}, {"ai_name", "alice"}});
  CHECK(usage["providers"]["anthropic"]["used"] == charged);
  CHECK(usage["providers"]["anthropic"]["reserved"] == 0);
  CHECK(served(fake.stats(), "anthropic") == charged);

  auto [pref_status, pref] = http.post(
      kApi + "/test-ai-call", R"({"ai_name":"alice","prompt":"hi","preferred_provider":"openai"})", kToken);
  CHECK(pref_status == 200);
  CHECK(pref["provider"] == "openai");
  CHECK(pref["reason"] == "preferred");

  auto [bad_status, bad] = http.post(kApi + "/test-ai-call", R"({"ai_name":"alice"})", kToken);
  CHECK(bad_status == 400);
  CHECK(bad["error"]["code"] == "bad_request");
  auto [json_status, not_json] = http.post(kApi + "/test-ai-call", "{not json", kToken);
  CHECK(json_status == 400);
  CHECK(not_json["error"]["message"].get<std::string>().find("JSON") != std::string::npos);

  // Both calls that reached the loop from HTTP are counted as HTTP requests.
  const std::string page = http.text("/metrics");
  INFO(page);
  CHECK(sample(page, "tollgate_requests_total{op=\"call\",code=\"ok\",transport=\"http\"}") == 2);
  CHECK(sample(page, "tollgate_requests_total{op=\"call\",code=\"ok\",transport=\"zmq\"}") == -1);

  auto [reset_status, reset] = http.post(kApi + "/reset/alice", "", kToken);
  INFO(reset.dump());
  REQUIRE(reset_status == 200);
  CHECK(reset["cleared"]["anthropic"] == charged);
  auto after = client.request({{"op", "usage"}, {"ai_name", "alice"}});
  CHECK(after["providers"]["anthropic"]["used"] == 0);
  CHECK(events.wait_until(
      [](const auto& evs) {
        for (const auto& [topic, body] : evs) {
          if (topic == "ledger" && body.value("ai_name", "") == "alice") return true;
        }
        return false;
      },
      10s));
}

TEST_CASE("an admin POST nested too deep or sent as a large form is refused and tollgated keeps serving") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake, {{"TOLLGATE_HTTP_ADMIN_TOKEN", kToken}}));
  Http http(http_address(d));

  // 200,000 levels: converting it to msgpack used to recurse per level and
  // overflow the stack, killing the daemon.
  const size_t levels = 200000;
  const std::string deep = R"({"ai_name":"alice","x":)" + std::string(levels, '[') +
                           std::string(levels, ']') + "}";
  auto [deep_status, deep_reply] = http.post(kApi + "/test-ai-call", deep, kToken);
  CHECK(deep_status == 400);
  CHECK(deep_reply["error"]["code"] == "bad_request");
  CHECK(deep_reply["error"]["message"] == "request body: nests containers deeper than 32 levels");

  // curl's default Content-Type: httplib caps form bodies at 8 KiB itself.
  const std::string big = R"({"ai_name":"alice","prompt":")" + std::string(9000, 'a') + R"("})";
  auto [form_status, form_reply] =
      http.post(kApi + "/test-ai-call", big, kToken, "application/x-www-form-urlencoded");
  CHECK(form_status == 413);
  CHECK(form_reply["error"]["code"] == "too_large");
  CHECK(form_reply["error"]["message"].get<std::string>().find("application/json") !=
        std::string::npos);

  auto [status, reply] = http.post(kApi + "/test-ai-call", big, kToken);
  INFO(reply.dump());
  CHECK(status == 200);
  CHECK(reply["ok"] == true);
  CHECK(served(fake.stats(), "anthropic") == reply["usage"]["total_tokens"].get<uint64_t>());
}

TEST_CASE("metrics pass promtool and agree with the ledger and the replies") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake, {{"ANTHROPIC_MONTHLY_LIMIT", "300"}, {"ANTHROPIC_RPM", "0"}}));
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  int ok_calls = 0;
  int exhausted = 0;
  std::set<std::string> fallback_reasons;
  for (int i = 0; i < 30; ++i) {
    auto r = client.request(call_body("alice", "hello", 10));
    if (r["ok"] == true) {
      ++ok_calls;
      if (r["reason"].get<std::string>().rfind("fallback_", 0) == 0) fallback_reasons.insert(r["reason"]);
    } else if (r["error"]["code"] == "budget_exhausted") {
      ++exhausted;
    }
  }
  REQUIRE(ok_calls > 0);
  REQUIRE_FALSE(fallback_reasons.empty());  // alice crossed 95% and moved to OpenAI
  REQUIRE(client.request({{"op", "usage"}, {"ai_name", "nobody"}})["ok"] == true);

  Http http(http_address(d));
  for (int i = 0; i < 3; ++i) REQUIRE(http.get(kApi + "/summary").first == 200);
  REQUIRE(client.request({{"op", "summary"}})["ok"] == true);
  int status = 0;
  const std::string page = http.text("/metrics", &status);
  REQUIRE(status == 200);
  INFO(page);

  auto usage = client.request({{"op", "usage"}, {"ai_name", "alice"}});
  for (const std::string provider : {"anthropic", "openai"}) {
    const std::string labels = "{agent=\"alice\",provider=\"" + provider + "\"}";
    CHECK(sample(page, "tollgate_tokens_used" + labels) ==
          usage["providers"][provider]["used"].get<double>());
    CHECK(sample(page, "tollgate_tokens_reserved" + labels) == 0);
    CHECK(sample(page, "tollgate_tokens_limit" + labels) ==
          usage["providers"][provider]["limit"].get<double>());
  }
  CHECK(sample(page, "tollgate_requests_total{op=\"call\",code=\"ok\",transport=\"zmq\"}") == ok_calls);
  CHECK(sample(page, "tollgate_requests_total{op=\"summary\",code=\"ok\",transport=\"http\"}") == 3);
  CHECK(sample(page, "tollgate_requests_total{op=\"summary\",code=\"ok\",transport=\"zmq\"}") == 1);
  if (exhausted > 0) {
    CHECK(sample(page,
                 "tollgate_requests_total{op=\"call\",code=\"budget_exhausted\",transport=\"zmq\"}") ==
          exhausted);
    CHECK(sample(page, "tollgate_errors_total{code=\"budget_exhausted\"}") == exhausted);
  }
  for (const auto& reason : fallback_reasons) {
    CHECK(sample(page, "tollgate_fallbacks_total{reason=\"" + reason + "\"}") > 0);
  }
  CHECK(sample(page, "tollgate_alerts_total{level=\"warning\"}") >= 1);
  CHECK(sample(page, "tollgate_calls_in_flight") == 0);
  CHECK(sample(page, "tollgate_call_duration_seconds_count") == ok_calls + exhausted);
  CHECK(sample(page, "tollgate_provider_request_duration_seconds_count{provider=\"anthropic\"}") > 0);
  CHECK(sample(page, "tollgate_ledger_batch_ops_count") > 0);
  CHECK(sample(page, "tollgate_ledger_fsync_duration_seconds_count") ==
        sample(page, "tollgate_ledger_batch_ops_count"));
  CHECK(sample(page, "tollgate_circuit_state{provider=\"anthropic\"}") == 0);

  const std::string promtool = find_program("promtool");
  if (promtool.empty()) {
    WARN("promtool not installed (Debian package prometheus); skipping the format check");
    return;
  }
  TempDir dir;
  const std::string file = dir.path() + "/metrics.txt";
  std::ofstream(file) << page;
  const std::string cmd = promtool + " check metrics < " + file + " > " + dir.path() + "/out.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ostringstream report;
  report << std::ifstream(dir.path() + "/out.txt").rdbuf();
  INFO("promtool: " << report.str());
  CHECK(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 0);
}

TEST_CASE("healthz and readyz answer and the dashboard page is served at the root") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake));
  Http http(http_address(d));
  auto [hstatus, health] = http.get("/healthz");
  CHECK(hstatus == 200);
  CHECK(health["status"] == "ok");
  auto [rstatus, ready] = http.get("/readyz");
  CHECK(rstatus == 200);
  CHECK(ready["ready"] == true);
  int status = 0;
  const std::string page = http.text("/", &status);
  CHECK(status == 200);
  CHECK(page.find("<!doctype html>") != std::string::npos);
  CHECK(page.find("app.js") != std::string::npos);
  http.text("/app.js", &status);
  CHECK(status == 200);
}

TEST_CASE("a non-loopback HTTP bind is refused without TOLLGATE_ALLOW_INSECURE_BIND") {
  TempDir data;
  ChildProcess refused(bin_dir() + "/tollgated", {},
                       {{"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"}, {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
                        {"TOLLGATE_DATA_DIR", data.path()}, {"TOLLGATE_HTTP", "0.0.0.0:0"}});
  auto rc = refused.wait_exit(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 2);
  INFO(refused.output());
  CHECK(refused.output().find("TOLLGATE_HTTP=0.0.0.0:0") != std::string::npos);
  CHECK(refused.output().find("TOLLGATE_ALLOW_INSECURE_BIND") != std::string::npos);
}

TEST_CASE("a test-ai-call in flight at SIGTERM is answered before tollgated exits") {
  FakeProviderProcess fake({"--fault", "*:delay_ms=1500"});
  TollgatedProcess d(http_env(fake, {{"TOLLGATE_HTTP_ADMIN_TOKEN", kToken}}));
  const std::string address = http_address(d);
  int status = -1;
  std::string body;
  std::jthread poster([&] {
    httplib::Client http("http://" + address);
    http.set_read_timeout(30, 0);
    auto res = http.Post((kApi + "/test-ai-call").c_str(), {{"Authorization", "Bearer " + kToken}},
                         R"({"ai_name":"alice","prompt":"slow"})", "application/json");
    if (res) {
      status = res->status;
      body = res->body;
    }
  });
  // Wait until the call has reached the provider (which holds it for
  // 1.5 s): each stats request is a round trip, so this is not a spin.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (fake.stats()["anthropic"]["requests"].get<uint64_t>() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
  }
  REQUIRE(fake.stats()["anthropic"]["requests"].get<uint64_t>() == 1);
  d.process().signal(SIGTERM);
  poster.join();
  INFO(body);
  CHECK(status == 200);
  CHECK(json::parse(body, nullptr, false)["ok"] == true);
  auto rc = d.process().wait_exit(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
}

TEST_CASE("tollgated refuses to start when the HTTP port is taken and names TOLLGATE_HTTP") {
  httplib::Server squatter;
  const int port = squatter.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  TempDir data;
  ChildProcess refused(bin_dir() + "/tollgated", {},
                       {{"TOLLGATE_LISTEN", "tcp://127.0.0.1:0"}, {"TOLLGATE_EVENTS", "tcp://127.0.0.1:0"},
                        {"TOLLGATE_DATA_DIR", data.path()},
                        {"TOLLGATE_HTTP", "127.0.0.1:" + std::to_string(port)}});
  auto rc = refused.wait_exit(20s);
  REQUIRE(rc.has_value());
  CHECK(*rc != 0);
  INFO(refused.output());
  CHECK(refused.output().find("TOLLGATE_HTTP=127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(refused.output().find("ready") == std::string::npos);
}

TEST_CASE("HTTP edges get true errors the right methods a case-insensitive scheme and ZeroMQ's decoding") {
  FakeProviderProcess fake;
  TollgatedProcess d(http_env(fake, {{"TOLLGATE_HTTP_ADMIN_TOKEN", kToken}}));
  Http http(http_address(d));
  httplib::Client raw("http://" + http_address(d));
  raw.set_read_timeout(10, 0);

  // A URL over httplib's 8 KiB limit: 414 that says so.
  auto long_url = raw.Get((kApi + "/ai/" + std::string(9000, 'a')).c_str());
  REQUIRE(long_url);
  CHECK(long_url->status == 414);
  CHECK(long_url->body.find("URL is too long") != std::string::npos);

  // A method the path does not take: 405 with Allow, at once (a PUT with
  // no body used to wait 5 s for one).
  const auto started = std::chrono::steady_clock::now();
  auto put = raw.Put((kApi + "/summary").c_str(), "", "application/json");
  REQUIRE(put);
  CHECK(put->status == 405);
  CHECK(put->get_header_value("Allow") == "GET, HEAD");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));
  auto get_reset = raw.Get((kApi + "/reset/alice").c_str());
  REQUIRE(get_reset);
  CHECK(get_reset->status == 405);
  CHECK(get_reset->get_header_value("Allow") == "POST");
  CHECK(json::parse(get_reset->body)["error"]["message"].get<std::string>().find("method not allowed") !=
        std::string::npos);
  auto del = raw.Delete("/nowhere");
  REQUIRE(del);
  CHECK(del->status == 404);

  // "bearer" in lower case is the same scheme (RFC 7235).
  httplib::Headers lower = {{"Authorization", std::string("bearer ") + kToken}};
  auto reset = raw.Post((kApi + "/reset/alice").c_str(), lower, R"({"force": true})", "application/json");
  REQUIRE(reset);
  CHECK(reset->status == 200);

  // A key given twice is refused, as over ZeroMQ.
  auto [dup_status, dup] = http.post(kApi + "/test-ai-call",
                                     R"({"ai_name":"alice","prompt":"a","prompt":"b"})", kToken);
  CHECK(dup_status == 400);
  CHECK(dup["error"]["message"] == "prompt: given more than once");
  zmq::context_t ctx;
  TestClient client(ctx, d.requests());
  auto zmq_dup = client.request({{"op", "ping"}});  // the daemon still serves
  CHECK(zmq_dup["ok"] == true);
}
