#include "tests/integration/load_clients.h"

#include "protocol/json_bridge.h"
#include "tests/integration/call_harness.h"

namespace tollgate::testing {

using namespace std::chrono_literals;

void ReplyTally::add(const std::string& agent, const nlohmann::json& reply) {
  std::lock_guard lock(mu);
  if (reply.value("ok", false)) {
    tokens[{agent, reply["provider"].get<std::string>()}] += reply["usage"]["total_tokens"].get<uint64_t>();
    ++ok;
  } else {
    ++errors[reply["error"].value("code", "")];
  }
  ++replies;
  cv.notify_all();
}

std::map<std::string, uint64_t> ReplyTally::tokens_by_provider() {
  std::lock_guard lock(mu);
  std::map<std::string, uint64_t> by_provider;
  for (const auto& [key, n] : tokens) by_provider[key.second] += n;
  return by_provider;
}

bool ReplyTally::wait_for_replies(uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, timeout, [&] { return replies >= n; });
}

bool ReplyTally::wait_for_ok(uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, timeout, [&] { return ok >= n; });
}

bool ReplyTally::wait_for_error(const std::string& code, uint64_t n,
                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu);
  return cv.wait_for(lock, timeout, [&] { return errors[code] >= n; });
}

void call_until_stopped(zmq::context_t& ctx, const std::string& endpoint, const std::string& agent,
                        const std::string& label, const std::atomic<bool>& stop, ReplyTally& tally) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  int64_t id = 0;
  while (!stop.load()) {
    nlohmann::json body = call_body(agent, label + " call " + std::to_string(id), 30);
    body["id"] = ++id;
    auto bytes = tollgate::protocol::from_json(body);
    if (!s.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) continue;
    while (!stop.load()) {  // this call's reply, or stop
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 100ms);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      if (!s.recv(m)) continue;
      auto reply = tollgate::protocol::to_json(m.to_string());
      if (reply.ok()) tally.add(agent, *reply);
      break;
    }
  }
}

}  // namespace tollgate::testing
