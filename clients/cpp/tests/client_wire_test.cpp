// What tollgate::Client puts on the wire, captured by a ROUTER socket in
// the test that answers canned replies (no daemon): every method with every
// option sends only the fields docs/protocol.md's request-fields table lists
// for its op (plus v, id and op), and together they send all of them; a
// resend after a client timeout keeps the idempotency key; a reply to an
// earlier request is never taken for the current one.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "tests/integration/tollgated_process.h"
#include "tests/unit/request_fields_table.h"
#include "tollgate/client.hpp"

using namespace tollgate;
using namespace std::chrono_literals;
using tollgate::testing::scaled;

namespace {

// op -> its documented request fields with the envelope's, from docs/protocol.md.
std::map<std::string, std::set<std::string>> documented_fields() {
  auto table = tollgate::testing::request_fields_table(std::string(TOLLGATE_SOURCE_DIR) + "/docs/protocol.md");
  for (auto& [op, fields] : table) fields.insert({"v", "id", "op"});
  return table;
}

// A call with this prompt is held the first time: answered only when the
// next request comes, just before that one's reply, so its reply is late.
constexpr const char* kHoldMe = "hold me";

// A ROUTER on an ephemeral port, in its own thread (which alone owns the
// socket). It records every request and answers each with canned replies
// (a call with stream: true gets one part first), holding kHoldMe once.
class CannedServer {
 public:
  CannedServer() {
    zmq::socket_t router(ctx_, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
    endpoint_ = router.get(zmq::sockopt::last_endpoint);
    thread_ = std::jthread([this, r = std::move(router)](std::stop_token stop) mutable { serve(r, stop); });
  }
  const std::string& endpoint() const { return endpoint_; }
  std::vector<Value> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static zmq::message_t packed(const Value& v) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    v.pack(pk);
    return zmq::message_t(buf.data(), buf.size());
  }

  static void reply(zmq::socket_t& s, const zmq::message_t& who, Value body) {
    body["v"] = 1;
    body["ok"] = true;
    std::vector<zmq::message_t> out;
    out.emplace_back(who.data(), who.size());
    out.emplace_back();
    out.push_back(packed(body));
    zmq::send_multipart(s, out);
  }

  void answer(zmq::socket_t& s, const zmq::message_t& who, const Value& req) {
    const Value& id = req["id"];
    if (req["op"].as_string() == "call" && req["stream"].as_bool()) {
      reply(s, who, Value::Map{{"id", id}, {"part", 1}, {"chunk", Value::Map{{"type", "text_delta"}, {"index", 0},
                                                                            {"text", "canned"}}}});
    }
    reply(s, who, Value::Map{{"id", id}, {"text", "canned " + id.as_string()}, {"found", true}});
  }

  void serve(zmq::socket_t& s, std::stop_token stop) {
    std::optional<std::pair<zmq::message_t, Value>> held;
    while (!stop.stop_requested()) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 20ms) == 0) continue;
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(s, std::back_inserter(frames))) continue;
      const zmq::message_t& body = frames.back();
      Value req = Value::from_msgpack(msgpack::unpack(static_cast<const char*>(body.data()), body.size()).get());
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      if (req["prompt"].as_string() == kHoldMe && !held_once_) {
        held_once_ = true;
        held.emplace(zmq::message_t(frames[0].data(), frames[0].size()), req);
        continue;
      }
      if (held) answer(s, held->first, held->second);  // late, before this one's reply
      held.reset();
      answer(s, frames[0], req);
    }
  }

  zmq::context_t ctx_;
  std::string endpoint_;
  bool held_once_ = false;  // serve() only
  mutable std::mutex mu_;
  std::vector<Value> requests_;  // guarded by mu_
  std::jthread thread_;
};

// A call with every option set: messages with every block type, or prompt.
CallOptions full_call(bool with_prompt) {
  CallOptions o;
  o.ai_name = "wire";
  if (with_prompt) {
    o.prompt = "hi";
    o.system = "be brief";
  } else {
    o.messages = {Message{"user", "", {ContentBlock::make_text("look"), ContentBlock::image_base64("image/png", "iVBO"),
                                       ContentBlock::image_url("https://example.com/a.png")}},
                  Message{"assistant", "", {ContentBlock::tool_use("t1", "f", Value::Map{{"x", 1}})}},
                  Message{"user", "", {ContentBlock::tool_result("t1", "done", false)}}};
    o.system_blocks = {ContentBlock::make_text("be brief")};
  }
  o.max_tokens = 10;
  o.temperature = 0.5;
  o.preferred_provider = "openai";
  o.model = "m";
  o.idempotency_key = "k";
  o.timeout_ms = 1000;
  o.tools = {Tool{"f", "a tool", Value::Map{{"type", "object"}}}};
  o.tool_choice = ToolChoice{"tool", "f"};
  o.stop_sequences = {"STOP"};
  o.top_p = 0.9;
  o.cache = true;
  return o;
}

// Calls every method of the client with every option set.
void call_every_method(Client& c) {
  REQUIRE(c.call(full_call(true)).ok());
  REQUIRE(c.call(full_call(false)).ok());
  int parts = 0;
  REQUIRE(c.stream(full_call(true), [&](const Chunk&) { ++parts; }).ok());
  CHECK(parts == 1);
  REQUIRE(c.cancel("x").ok());
  REQUIRE(c.ping().ok());
  REQUIRE(c.usage("a").ok());
  REQUIRE(c.summary().ok());
  REQUIRE(c.provider_status(std::string("a")).ok());
  REQUIRE(c.recommend("a").ok());
  REQUIRE(c.emergency_status().ok());
  REQUIRE(c.alerts(AlertsQuery{5, 1, std::string("a")}).ok());
  REQUIRE(c.history("a", 3).ok());
  REQUIRE(c.reset("a", std::string("openai"), true).ok());
  REQUIRE(c.ledger_events(5, 1).ok());
  REQUIRE(c.set_limit("a", "openai", 100, 1.5).ok());
  REQUIRE(c.limits().ok());
  REQUIRE(c.forecast(std::string("a")).ok());
  REQUIRE(c.daily(std::string("a"), 3).ok());
}

}  // namespace

TEST_CASE("every client method sends only and all the documented request fields") {
  const auto table = documented_fields();
  REQUIRE(table.size() >= 16);
  CannedServer server;
  Options options;
  options.timeout = scaled(5s);
  Client client(server.endpoint(), options);
  call_every_method(client);

  std::map<std::string, std::set<std::string>> sent;  // op -> union of keys
  for (const Value& req : server.requests()) {
    const std::string op = req["op"].as_string();
    INFO("op " << op << ": " << req.dump());
    REQUIRE(table.count(op));
    for (const auto& [key, v] : req.as_map()) {
      CHECK(table.at(op).count(key));
      sent[op].insert(key);
    }
    CHECK(req["v"].as_int() == 1);
  }
  for (const auto& [op, fields] : table) {
    INFO("op " << op);
    CHECK(sent[op] == fields);
  }
}

TEST_CASE("the client header states the version of the project it ships with") {
  CHECK(std::string(kClientVersion) == TOLLGATE_VERSION);
}

TEST_CASE("a resend after a client timeout keeps the generated idempotency key under a new id") {
  CannedServer server;
  Client client(server.endpoint());
  CallOptions o;
  o.ai_name = "wire";
  o.prompt = kHoldMe;
  o.client_timeout = 200ms;  // the held request: expects no reply, not scaled
  o.retries = 2;
  auto r = client.call(o);
  REQUIRE(r.ok());
  CHECK(r->sends == 2);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  const std::string key = reqs[0]["idempotency_key"].as_string();
  CHECK(key.size() >= 32);  // generated: 128 random bits
  CHECK(reqs[1]["idempotency_key"].as_string() == key);
  CHECK(reqs[0]["id"].as_string() != reqs[1]["id"].as_string());
  // The first send's late reply came first and was discarded.
  CHECK(r->text == "canned " + reqs[1]["id"].as_string());
  CHECK(r->request_id == reqs[1]["id"].as_string());
  CHECK(client.stale_replies() == 1);
}

TEST_CASE("a late reply to a timed out request is discarded and the current one is returned") {
  CannedServer server;
  Client client(server.endpoint());
  CallOptions o;
  o.ai_name = "wire";
  o.prompt = kHoldMe;
  o.client_timeout = 200ms;  // expects no reply: not scaled
  auto timed_out = client.call(o);
  REQUIRE_FALSE(timed_out.ok());
  CHECK(timed_out.error().code == kClientTimeout);

  // The server now answers the held call, then this call.
  o.prompt = "next";
  o.client_timeout = scaled(5s);
  auto next = client.call(o);
  REQUIRE(next.ok());
  CHECK(next->text == "canned " + next->request_id);
  CHECK(client.stale_replies() == 1);
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0]["idempotency_key"].as_string() != reqs[1]["idempotency_key"].as_string());
}
