// PendingRequests: the requests the loop keeps open, their reply parts and
// final replies in order, and what the metrics count from the typed
// replies. A recording ReplyEdge stands in for the ROUTER: no sockets.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "daemon/core/clock.h"
#include "daemon/server/pending_requests.h"

using namespace tollgate;
using namespace std::chrono_literals;

namespace {

// What reached a requester, in order.
struct Sent {
  std::string client;  // the first envelope frame, or "local"
  std::string id;
  std::string code;
  std::string text;  // a call reply's text
  bool last = false;
};

class RecordingEdge : public ReplyEdge {
 public:
  bool send(const OpenRequest& to, const Reply& reply, bool last) override {
    if (refuse_parts && !last) return false;
    Sent s;
    s.client = to.from.is_local() ? "local" : to.from.envelope.at(0).to_string();
    s.id = to.id.to_display();
    s.code = std::string(reply.code());
    if (reply.ok()) {
      if (const auto* call = std::get_if<protocol::CallReply>(&reply.body())) s.text = call->text;
    }
    s.last = last;
    sent.push_back(std::move(s));
    return true;
  }
  std::vector<Sent> sent;
  bool refuse_parts = false;  // as a ROUTER whose client's queue is full
};

OpenRequest from_client(const std::string& identity, int64_t id, std::string_view op,
                        const Clock& clock) {
  OpenRequest r;
  r.from.envelope.emplace_back(identity.data(), identity.size());
  r.from.envelope.emplace_back();  // the empty delimiter frame
  r.id = protocol::RequestId::from_int(id);
  r.op = op;
  r.started = clock.steady_now();
  return r;
}

Reply call_text(const std::string& text) {
  protocol::CallReply r;
  r.text = text;
  r.reason = "primary";
  return r;
}

struct Bench {
  ManualClock clock;
  RecordingEdge edge;
  metrics::Registry registry;
  metrics::DaemonMetrics m = metrics::register_daemon_metrics(registry);
  RequestMetrics counts{m};
  PendingRequests pending{edge, clock};
  Bench() { pending.set_metrics(&counts); }
};

}  // namespace

TEST_CASE("reply parts reach the client in order before the final reply which closes the request") {
  Bench b;
  b.pending.park(7, from_client("client-a", 41, "call", b.clock));
  REQUIRE(b.pending.is_open(7));
  CHECK(b.pending.part(7, call_text("Hel")) == PendingRequests::PartSent::kSent);
  CHECK(b.pending.part(7, call_text("lo")) == PendingRequests::PartSent::kSent);
  CHECK(b.pending.is_open(7));
  CHECK(b.pending.finish(7, call_text("Hello")));
  CHECK_FALSE(b.pending.is_open(7));
  CHECK(b.pending.empty());
  REQUIRE(b.edge.sent.size() == 3);
  for (const auto& s : b.edge.sent) {
    CHECK(s.client == "client-a");
    CHECK(s.id == "41");
  }
  CHECK(b.edge.sent[0].text == "Hel");
  CHECK_FALSE(b.edge.sent[0].last);
  CHECK(b.edge.sent[1].text == "lo");
  CHECK_FALSE(b.edge.sent[1].last);
  CHECK(b.edge.sent[2].text == "Hello");
  CHECK(b.edge.sent[2].last);
}

TEST_CASE("a closed request takes no more parts or replies") {
  Bench b;
  b.pending.park(3, from_client("client-a", 1, "call", b.clock));
  REQUIRE(b.pending.finish(3, call_text("done")));
  CHECK(b.pending.part(3, call_text("late part")) == PendingRequests::PartSent::kNoRequest);
  CHECK_FALSE(b.pending.finish(3, call_text("late reply")));
  CHECK_FALSE(b.pending.finish(99, protocol::Error::internal("never parked")));
  CHECK(b.edge.sent.size() == 1);
}

TEST_CASE("replies to requests kept open go to their own clients whatever order they finish in") {
  Bench b;
  b.pending.park(1, from_client("client-a", 10, "call", b.clock));
  b.pending.park(2, from_client("client-b", 20, "call", b.clock));
  CHECK(b.pending.size() == 2);
  REQUIRE(b.pending.finish(2, protocol::Error::budget_exhausted("no room")));
  REQUIRE(b.pending.finish(1, call_text("a")));
  REQUIRE(b.edge.sent.size() == 2);
  CHECK(b.edge.sent[0].client == "client-b");
  CHECK(b.edge.sent[0].id == "20");
  CHECK(b.edge.sent[0].code == "budget_exhausted");
  CHECK(b.edge.sent[1].client == "client-a");
  CHECK(b.edge.sent[1].code == "ok");
}

TEST_CASE("metrics count the final reply of a call from its value and not its parts") {
  Bench b;
  b.pending.park(5, from_client("client-a", 5, "call", b.clock));
  CHECK(b.m.calls_in_flight.value() == 1);
  b.clock.advance(100ms);
  REQUIRE(b.pending.part(5, call_text("part")) == PendingRequests::PartSent::kSent);
  CHECK(b.m.requests.with({"call", "ok", "zmq"}).value() == 0);
  CHECK(b.m.calls_in_flight.value() == 1);
  b.clock.advance(150ms);
  protocol::CallReply fallback;
  fallback.reason = "fallback_error";
  REQUIRE(b.pending.finish(5, fallback));
  CHECK(b.m.requests.with({"call", "ok", "zmq"}).value() == 1);
  CHECK(b.m.calls_in_flight.value() == 0);
  CHECK(b.m.fallbacks.with({"fallback_error"}).value() == 1);
  CHECK(b.m.call_duration.sum() == Approx(0.25));
}

TEST_CASE("a request answered at once is counted by transport and never kept open") {
  Bench b;
  OpenRequest local;
  local.id = protocol::RequestId::from_string("http-1");
  local.op = "reset";
  std::vector<std::string> got;
  local.from.local = [&got](const Reply& reply) { got.emplace_back(reply.code()); };
  b.pending.answer(local, protocol::Error::unauthorized("admin only"));
  b.pending.answer(from_client("client-a", 2, "usage", b.clock), protocol::UsageReply{});
  CHECK(b.pending.empty());
  CHECK(b.m.calls_in_flight.value() == 0);
  CHECK(b.m.requests.with({"reset", "unauthorized", "http"}).value() == 1);
  CHECK(b.m.errors.with({"unauthorized"}).value() == 1);
  CHECK(b.m.requests.with({"usage", "ok", "zmq"}).value() == 1);
  REQUIRE(b.edge.sent.size() == 2);
  CHECK(b.edge.sent[0].client == "local");
  CHECK(b.edge.sent[0].last);
}

TEST_CASE("a part the client cannot take cuts the stream and no later part goes out") {
  Bench b;
  b.pending.park(4, from_client("client-a", 4, "call", b.clock));
  REQUIRE(b.pending.part(4, call_text("one")) == PendingRequests::PartSent::kSent);
  b.edge.refuse_parts = true;
  CHECK(b.pending.part(4, call_text("two")) == PendingRequests::PartSent::kCut);
  b.edge.refuse_parts = false;
  CHECK(b.pending.part(4, call_text("three")) == PendingRequests::PartSent::kSkipped);
  REQUIRE(b.pending.finish(4, protocol::Error::cancelled("cut")));
  REQUIRE(b.edge.sent.size() == 2);
  CHECK(b.edge.sent[0].text == "one");
  CHECK(b.edge.sent[1].code == "cancelled");
  CHECK(b.edge.sent[1].last);
}

TEST_CASE("find_call names the open call of that client under that id only") {
  Bench b;
  b.pending.park(1, from_client("client-a", 10, "call", b.clock));
  b.pending.park(2, from_client("client-b", 10, "call", b.clock));
  b.pending.park(3, from_client("client-a", 11, "usage", b.clock));
  const zmq::message_t a("client-a", 8);
  const zmq::message_t b_id("client-b", 8);
  CHECK(b.pending.find_call(a, protocol::RequestId::from_int(10)) == std::optional<uint64_t>(1));
  CHECK(b.pending.find_call(b_id, protocol::RequestId::from_int(10)) == std::optional<uint64_t>(2));
  CHECK_FALSE(b.pending.find_call(a, protocol::RequestId::from_int(11)));  // not a call
  CHECK_FALSE(b.pending.find_call(a, protocol::RequestId::from_int(12)));
  REQUIRE(b.pending.finish(1, call_text("done")));
  CHECK_FALSE(b.pending.find_call(a, protocol::RequestId::from_int(10)));
}

TEST_CASE("find_local_call names a local submitter's open call under that id only") {
  Bench b;
  OpenRequest local;
  local.from.local = [](const Reply&) {};
  local.id = protocol::RequestId::from_string("http-v1-7");
  local.op = "call";
  local.started = b.clock.steady_now();
  b.pending.park(1, std::move(local));
  b.pending.park(2, from_client("client-a", 7, "call", b.clock));
  CHECK(b.pending.find_local_call(protocol::RequestId::from_string("http-v1-7")) == std::optional<uint64_t>(1));
  CHECK_FALSE(b.pending.find_local_call(protocol::RequestId::from_int(7)));  // a ROUTER client's
  CHECK_FALSE(b.pending.find_local_call(protocol::RequestId::from_string("http-v1-8")));
  REQUIRE(b.pending.finish(1, call_text("done")));
  CHECK_FALSE(b.pending.find_local_call(protocol::RequestId::from_string("http-v1-7")));
}
