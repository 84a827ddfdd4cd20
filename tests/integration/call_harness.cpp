#include "tests/integration/call_harness.h"

#include <catch2/catch.hpp>
#include <httplib.h>

#include "protocol/codec.h"

namespace tollgate::testing {

FakeProviderProcess::FakeProviderProcess(std::vector<std::string> args) {
  args.insert(args.begin(), {"--port", "0"});
  child_ = std::make_unique<ChildProcess>(bin_dir() + "/fake-provider", args, Env{});
  auto line = child_->wait_for_line("listening ", scaled(std::chrono::seconds(20)));
  INFO("fake-provider output:\n" << child_->output());
  REQUIRE(line.has_value());
  port_ = std::stoi(line->substr(line->rfind(':') + 1));
}

FakeProviderProcess::~FakeProviderProcess() {
  if (child_) check_no_sanitizer_report("fake-provider", child_->output());
}

nlohmann::json FakeProviderProcess::stats() const {
  httplib::Client c("127.0.0.1", port_);
  auto r = c.Get("/_control/stats");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return nlohmann::json::parse(r->body);
}

void FakeProviderProcess::set_faults(const nlohmann::json& faults) const {
  httplib::Client c("127.0.0.1", port_);
  auto r = c.Post("/_control/faults", faults.dump(), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
}

Env FakeProviderProcess::provider_env() const {
  return {{"ANTHROPIC_API_KEY", kTestAnthropicKey},
          {"OPENAI_API_KEY", kTestOpenAiKey},
          {"ANTHROPIC_BASE_URL", base_url()},
          {"OPENAI_BASE_URL", base_url() + "/v1"}};
}

TestClient::TestClient(zmq::context_t& ctx, const std::string& endpoint)
    : socket_(ctx, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.connect(endpoint);
}

void TestClient::send(nlohmann::json body) {
  if (!body.contains("id")) body["id"] = next_id_++;
  auto bytes = protocol::from_json(body);
  socket_.send(zmq::buffer(bytes));
}

std::optional<nlohmann::json> TestClient::receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
  zmq::message_t m;
  std::string last;
  do {
    (void)socket_.recv(m);
    last = m.to_string();
  } while (m.more());
  auto j = protocol::to_json(last);
  REQUIRE(j.ok());
  return *j;
}

std::optional<nlohmann::json> TestClient::try_request(nlohmann::json body, std::chrono::milliseconds timeout) {
  const int64_t id = next_id_++;
  body["id"] = id;
  send(body);
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    std::string last;
    do {
      if (!socket_.recv(m)) return std::nullopt;
      last = m.to_string();
    } while (m.more());
    auto reply = protocol::to_json(last);
    if (!reply.ok()) return std::nullopt;
    if ((*reply)["id"] == id) return *reply;
  }
}

nlohmann::json TestClient::request(nlohmann::json body, std::chrono::milliseconds timeout) {
  const int64_t id = next_id_++;
  body["id"] = id;
  send(body);
  auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    REQUIRE(left.count() > 0);
    auto reply = receive(left);
    REQUIRE(reply.has_value());
    if ((*reply)["id"] == id) return *reply;
  }
}

EventCollector::EventCollector(zmq::context_t& ctx, const std::string& endpoint)
    : socket_(ctx, zmq::socket_type::sub) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::subscribe, "");
  socket_.connect(endpoint);
}

void EventCollector::poll(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, timeout);
  while (true) {
    zmq::message_t topic;
    if (!socket_.recv(topic, zmq::recv_flags::dontwait)) return;
    zmq::message_t body;
    (void)socket_.recv(body);
    auto j = protocol::to_json(body.to_string());
    REQUIRE(j.ok());
    events_.emplace_back(topic.to_string(), *j);
  }
}

void EventCollector::sync(TestClient& client) {
  for (int i = 0; i < 100; ++i) {
    client.request({{"op", "reset"}, {"ai_name", "zz-sync"}, {"force", true}});
    poll(std::chrono::milliseconds(50));
    for (const auto& [topic, body] : events_) {
      if (topic == "ledger" && body.value("ai_name", "") == "zz-sync") {
        events_.clear();
        return;
      }
    }
  }
  FAIL("the event subscription never became live");
}

std::vector<nlohmann::json> EventCollector::with_prefix(const std::string& prefix) const {
  std::vector<nlohmann::json> out;
  for (const auto& [topic, body] : events_) {
    if (topic.rfind(prefix, 0) == 0) out.push_back(body);
  }
  return out;
}

Env merge(Env a, const Env& b) {
  for (const auto& [k, v] : b) a[k] = v;
  return a;
}

nlohmann::json call_body(const std::string& agent, const std::string& prompt, uint64_t max_tokens) {
  return {{"op", "call"}, {"ai_name", agent}, {"prompt", prompt}, {"max_tokens", max_tokens}};
}

std::string attempt_codes(const nlohmann::json& reply) {
  std::string out;
  for (const auto& a : reply["attempts"]) {
    out += a["provider"].get<std::string>();
    out += ':';
    out += a["outcome"].get<std::string>();
    if (!a["code"].is_null()) {
      out += ':';
      out += a["code"].get<std::string>();
    }
    out += ' ';
  }
  return out;
}

uint64_t served(const nlohmann::json& stats, const std::string& api) {
  return stats[api]["input_tokens"].get<uint64_t>() + stats[api]["output_tokens"].get<uint64_t>();
}

}  // namespace tollgate::testing
