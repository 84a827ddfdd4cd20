// tollctl's Client (tools/tollctl/client.h) on a real DEALER socket against
// a ROUTER standing in for tollgated in this process: a streamed call's
// parts come in order, the last message is its reply, messages of other
// requests are skipped, and a stream that stops after a part is given up
// after the wait between parts. No daemon, no provider.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "protocol/codec.h"
#include "tools/tollctl/client.h"

using nlohmann::json;
using namespace std::chrono_literals;
using tollgate::tools::Client;
using tollgate::tools::StreamEnd;
using tollgate::tools::StreamWaits;

namespace {

// A ROUTER on an ephemeral loopback port that takes one request and
// answers it with `answers`, in order, each with the request's id unless it
// has an id of its own. Its thread owns the socket; received() joins it.
class FakeDaemon {
 public:
  FakeDaemon(zmq::context_t& ctx, std::vector<json> answers)
      : router_(ctx, zmq::socket_type::router), answers_(std::move(answers)) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::jthread([this] { serve(); });
  }

  const std::string& endpoint() const { return endpoint_; }

  // The request's frames (envelope and body); waits for the answers to be sent.
  std::vector<std::string> received() {
    thread_.join();
    return frames_;
  }

 private:
  void serve() {
    zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(10'000)) <= 0) return;
    std::vector<zmq::message_t> in;
    if (!zmq::recv_multipart(router_, std::back_inserter(in))) return;
    for (const auto& m : in) frames_.push_back(m.to_string());
    auto request = tollgate::protocol::to_json(frames_.back());
    const json id = request ? (*request)["id"] : json(nullptr);
    for (json answer : answers_) {
      if (!answer.contains("id")) answer["id"] = id;
      for (size_t i = 0; i + 1 < frames_.size(); ++i) {
        router_.send(zmq::buffer(frames_[i]), zmq::send_flags::sndmore);
      }
      router_.send(zmq::buffer(tollgate::protocol::from_json(answer)), zmq::send_flags::none);
    }
  }

  zmq::socket_t router_;
  std::vector<json> answers_;
  std::string endpoint_;
  std::vector<std::string> frames_;
  std::jthread thread_;
};

json text_part(uint64_t n, const std::string& text) {
  return {{"v", 1}, {"ok", true}, {"part", n},
          {"chunk", {{"type", "text_delta"}, {"index", 0}, {"text", text}}}};
}

tollgate::protocol::CallRequest hello_call() {
  tollgate::protocol::CallRequest call;
  call.ai_name = "imperium";
  call.prompt = "hello";
  return call;
}

}  // namespace

TEST_CASE("a streamed call hands over its parts in order and returns its reply") {
  zmq::context_t ctx;
  const json reply = {{"v", 1}, {"ok", true}, {"text", "Hello"}, {"provider", "anthropic"}};
  FakeDaemon daemon(ctx, {text_part(1, "Hel"),
                          {{"v", 1}, {"id", "someone-else"}, {"ok", true}, {"text", "not ours"}},
                          text_part(2, "lo"), reply});
  Client client(ctx, daemon.endpoint());
  std::vector<json> parts;
  StreamEnd end = client.stream(hello_call(), StreamWaits{10s, 10s},
                                [&](const json& p) { parts.push_back(p); });
  REQUIRE(end.reply.has_value());
  CHECK((*end.reply)["text"] == "Hello");
  CHECK(end.parts == 2);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0]["chunk"]["text"] == "Hel");
  CHECK(parts[1]["part"] == 2);
  // A DEALER request: identity, the empty delimiter, then the body with stream: true.
  auto frames = daemon.received();
  REQUIRE(frames.size() == 3);
  CHECK(frames[1].empty());
  auto sent = tollgate::protocol::to_json(frames[2]);
  REQUIRE(sent.ok());
  CHECK((*sent)["op"] == "call");
  CHECK((*sent)["stream"] == true);
  CHECK((*sent)["id"] == (*end.reply)["id"]);
}

TEST_CASE("an error reply after a part ends the stream") {
  zmq::context_t ctx;
  const json error = {{"v", 1}, {"ok", false}, {"partial", true},
                      {"error", {{"code", "provider_error"}, {"message", "cut"}, {"partial", true}}}};
  FakeDaemon daemon(ctx, {text_part(1, "Hel"), error});
  Client client(ctx, daemon.endpoint());
  uint64_t seen = 0;
  StreamEnd end = client.stream(hello_call(), StreamWaits{10s, 10s}, [&](const json&) { ++seen; });
  REQUIRE(end.reply.has_value());
  CHECK((*end.reply)["ok"] == false);
  CHECK((*end.reply)["partial"] == true);
  CHECK(seen == 1);
  CHECK(end.parts == 1);
  (void)daemon.received();
}

TEST_CASE("a stream that stops after a part is given up after the wait between parts") {
  zmq::context_t ctx;
  FakeDaemon daemon(ctx, {text_part(1, "Hel")});
  Client client(ctx, daemon.endpoint());
  const auto started = std::chrono::steady_clock::now();
  // The whole call may take a minute; after a part, 300 ms of silence is enough.
  StreamEnd end = client.stream(hello_call(), StreamWaits{60s, 300ms}, [](const json&) {});
  CHECK_FALSE(end.reply.has_value());
  CHECK(end.parts == 1);
  CHECK(end.stalled);
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  (void)daemon.received();
}

TEST_CASE("a stream with no answer at all is given up at the whole wait and is not a stall") {
  zmq::context_t ctx;
  FakeDaemon daemon(ctx, {});
  Client client(ctx, daemon.endpoint());
  StreamEnd end = client.stream(hello_call(), StreamWaits{300ms, 50ms}, [](const json&) {});
  CHECK_FALSE(end.reply.has_value());
  CHECK(end.parts == 0);
  CHECK_FALSE(end.stalled);
  CHECK(daemon.received().size() == 3);
}
