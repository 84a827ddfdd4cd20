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
  call.stream = o.stream;
  return protocol::encode_request(id, call);
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

// What the run has sent and received so far.
struct Progress {
  explicit Progress(const ZmqBenchOptions& o) : options(o) { latencies.reserve(o.requests); }
  const ZmqBenchOptions& options;
  std::unordered_map<uint64_t, Clock::time_point> sent_at;
  std::unordered_map<uint64_t, bool> had_part;  // --stream
  std::vector<double> latencies;
  std::vector<double> first_parts;
  ZmqBenchResult r;
  uint64_t sent = 0, received = 0;
  Clock::time_point measure_start = Clock::now();

  // One message from tollgated: a part (--stream) or a reply.
  void take(const nlohmann::json& reply, Clock::time_point done) {
    if (!reply.contains("id") || !reply["id"].is_number_integer()) return;
    const uint64_t id = reply["id"].get<uint64_t>();
    auto it = sent_at.find(id);
    if (it == sent_at.end()) return;
    const bool measured = id >= options.warmup;
    const double ms = std::chrono::duration<double, std::milli>(done - it->second).count();
    if (reply.contains("chunk")) {  // a part: the reply is still to come
      if (measured) {
        ++r.parts;
        if (!had_part[id]) first_parts.push_back(ms);
      }
      had_part[id] = true;
      return;
    }
    had_part.erase(id);
    if (measured) {
      latencies.push_back(ms);
      if (reply["ok"] == true) {
        ++r.ok;
      } else {
        ++r.errors;
        ++r.errors_by_code[reply["error"].value("code", std::string("?"))];
        if (r.first_error.empty()) r.first_error = reply["error"].dump();
      }
    }
    sent_at.erase(it);
    if (++received == options.warmup) start_measuring();
  }

  void start_measuring() {
    if (options.at_measure_start) options.at_measure_start();
    measure_start = Clock::now();
  }

  ZmqBenchResult finish() {
    r.seconds = std::chrono::duration<double>(Clock::now() - measure_start).count();
    r.per_second = static_cast<double>(options.requests) / r.seconds;
    std::sort(latencies.begin(), latencies.end());
    r.p50_ms = percentile(latencies, 0.50);
    r.p90_ms = percentile(latencies, 0.90);
    r.p99_ms = percentile(latencies, 0.99);
    r.max_ms = latencies.empty() ? 0 : latencies.back();
    std::sort(first_parts.begin(), first_parts.end());
    r.first_part_p50_ms = percentile(first_parts, 0.50);
    r.first_part_p99_ms = percentile(first_parts, 0.99);
    return r;
  }
};

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
  Progress p(o);
  const auto interval = o.rate > 0 ? std::chrono::duration<double>(1.0 / o.rate) : std::chrono::duration<double>(0);
  if (o.warmup == 0) p.start_measuring();
  auto next_send = Clock::now();

  while (p.received < total) {
    auto now = Clock::now();
    // Send what the mode allows now.
    while (p.sent < total && p.sent - p.received < (o.rate > 0 ? UINT32_MAX : o.inflight) &&
           (o.rate <= 0 || now >= next_send)) {
      auto body = request_body(o, p.sent);
      p.sent_at[p.sent] = Clock::now();
      s.send(zmq::buffer(body), zmq::send_flags::none);
      ++p.sent;
      if (o.rate > 0) next_send += std::chrono::duration_cast<Clock::duration>(interval);
    }
    long wait_ms = 1000;
    if (o.rate > 0 && p.sent < total) {
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
    zmq::message_t m;
    while (s.recv(m, zmq::recv_flags::dontwait)) {
      auto reply = protocol::to_json(m.to_string());
      if (reply) p.take(*reply, Clock::now());
    }
  }
  return p.finish();
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
