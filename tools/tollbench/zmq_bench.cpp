#include "tools/tollbench/zmq_bench.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "protocol/codec.h"

namespace tollgate::tollbench {

namespace {

using Clock = std::chrono::steady_clock;

// mixed: the status op taking the place of every tenth call.
protocol::RequestBody status_op(const ZmqBenchOptions& o, uint64_t n) {
  const std::string agent = o.agent + "-" + std::to_string(n % o.agents);
  switch ((n / 10) % 5) {
    case 0: {
      protocol::UsageRequest r;
      r.ai_name = agent;
      return r;
    }
    case 1: return protocol::SummaryRequest{};
    case 2: return protocol::ProviderStatusRequest{};
    case 3: return protocol::AlertsRequest{};
    default: return protocol::PingRequest{};
  }
}

std::string request_body(const ZmqBenchOptions& o, uint64_t n) {
  auto id = protocol::RequestId::from_int(static_cast<int64_t>(n));
  if (o.op == "ping") return protocol::encode_request(id, protocol::PingRequest{});
  if (o.op == "mixed" && n % 10 == 9) return protocol::encode_request(id, status_op(o, n));
  protocol::CallRequest call;
  call.ai_name = o.agent + "-" + std::to_string(n % o.agents);
  call.prompt = "Benchmark prompt number " + std::to_string(n) + ": reply briefly.";
  call.max_tokens = o.max_tokens;
  return protocol::encode_request(id, call);
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

}  // namespace

protocol::Result<ZmqBenchResult> run_zmq_bench(const ZmqBenchOptions& o) {
  if (o.op != "ping" && o.op != "call" && o.op != "mixed") {
    return protocol::Error::bad_request("--op must be ping, call or mixed");
  }
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.connect(o.endpoint);

  const uint64_t total = o.requests + o.warmup;
  std::unordered_map<uint64_t, Clock::time_point> sent_at;
  std::vector<double> latencies;
  latencies.reserve(o.requests);
  ZmqBenchResult r;
  uint64_t sent = 0, received = 0;
  Clock::time_point start, measure_start;
  start = measure_start = Clock::now();
  const auto interval = o.rate > 0 ? std::chrono::duration<double>(1.0 / o.rate) : std::chrono::duration<double>(0);
  auto next_send = Clock::now();

  while (received < total) {
    auto now = Clock::now();
    // Send what the mode allows now.
    while (sent < total && sent - received < (o.rate > 0 ? UINT32_MAX : o.inflight) &&
           (o.rate <= 0 || now >= next_send)) {
      auto body = request_body(o, sent);
      sent_at[sent] = Clock::now();
      s.send(zmq::buffer(body), zmq::send_flags::none);
      ++sent;
      if (o.rate > 0) next_send += std::chrono::duration_cast<Clock::duration>(interval);
    }
    long wait_ms = 1000;
    if (o.rate > 0 && sent < total) {
      wait_ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next_send - Clock::now()).count());
    }
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(wait_ms));
    if (!(item.revents & ZMQ_POLLIN)) {
      if (o.rate <= 0 && Clock::now() - now > std::chrono::seconds(30)) {
        return protocol::Error::timeout("no reply for 30 s from " + o.endpoint);
      }
      continue;
    }
    while (true) {
      zmq::message_t m;
      if (!s.recv(m, zmq::recv_flags::dontwait)) break;
      auto reply = protocol::to_json(m.to_string());
      auto done = Clock::now();
      if (!reply || !reply->contains("id") || !(*reply)["id"].is_number_integer()) continue;
      uint64_t id = (*reply)["id"].get<uint64_t>();
      auto it = sent_at.find(id);
      if (it == sent_at.end()) continue;
      if (id >= o.warmup) {
        latencies.push_back(std::chrono::duration<double, std::milli>(done - it->second).count());
        if ((*reply)["ok"] == true) {
          ++r.ok;
        } else {
          ++r.errors;
          ++r.errors_by_code[(*reply)["error"].value("code", std::string("?"))];
          if (r.first_error.empty()) r.first_error = (*reply)["error"].dump();
        }
      }
      sent_at.erase(it);
      if (++received == o.warmup) measure_start = Clock::now();
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - measure_start).count();
  r.per_second = static_cast<double>(o.requests) / r.seconds;
  std::sort(latencies.begin(), latencies.end());
  r.p50_ms = percentile(latencies, 0.50);
  r.p90_ms = percentile(latencies, 0.90);
  r.p99_ms = percentile(latencies, 0.99);
  r.max_ms = latencies.empty() ? 0 : latencies.back();
  (void)start;
  return r;
}

double run_codec_bench(uint64_t iterations) {
  protocol::CallRequest call;
  call.ai_name = "imperium";
  call.prompt = "Summarise the deployment log of the last hour in three bullet points.";
  call.max_tokens = 512;
  call.temperature = 0.3;
  call.idempotency_key = "job-8841-step-3";
  const std::string body = protocol::encode_request(protocol::RequestId::from_int(42), call);
  protocol::CallReply reply;
  reply.text = "ok";
  reply.provider = "anthropic";
  reply.model = "claude-sonnet-4-5";
  reply.reason = "primary";
  reply.usage = {40, 20, 60};
  reply.attempts = {{"anthropic", "ok", std::nullopt, 12.5}};
  protocol::DecodeLimits limits;
  size_t sink = 0;
  auto start = Clock::now();
  for (uint64_t i = 0; i < iterations; ++i) {
    auto decoded = protocol::decode_request(body, limits);
    if (!decoded.body) return 0;
    sink += protocol::encode_reply(decoded.id, reply).size();
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return sink > 0 ? static_cast<double>(iterations) / seconds : 0;
}

}  // namespace tollgate::tollbench
