// CurlTransport, driven by a Worker's loop as the call code drives it,
// against the real fake-provider binary over loopback.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "tests/integration/call_harness.h"
#include "workers/calls/worker.h"
#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

using namespace tollgate::workers;
using tollgate::testing::FakeProviderProcess;
using tollgate::testing::scaled;
using tollgate::testing::time_scale;

namespace {

// Bound on callbacks that must come (stretched under sanitizers).
const std::chrono::milliseconds kWait = scaled(std::chrono::seconds(30));

// Collects callbacks by request number; counts how often each one ran.
class Collector {
 public:
  DoneCallback callback(int n) {
    return [this, n](HttpResponse r) {
      std::lock_guard lock(mu_);
      ++calls_[n];
      responses_[n] = std::move(r);
      ++total_;
      cv_.notify_all();
    };
  }
  bool wait_for(size_t total) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return total_ >= total; });
  }
  bool wait_for_request(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return calls_.count(n) > 0; });
  }
  std::map<int, int> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  HttpResponse response(int n) const {
    std::lock_guard lock(mu_);
    return responses_.at(n);
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, int> calls_;
  std::map<int, HttpResponse> responses_;
  size_t total_ = 0;
};

// Submits on the worker's thread, as the call code does.
void submit(Worker& worker, HttpRequest request, HttpRequestOptions options, DoneCallback done,
            ChunkCallback chunk = {}) {
  worker.post([&worker, request = std::move(request), options, done = std::move(done),
               chunk = std::move(chunk)]() mutable {
    worker.transport().submit(std::move(request), options, std::move(chunk), std::move(done));
  });
}

// Returns once the worker ran every task posted before.
void drain(Worker& worker) {
  std::promise<void> ran;
  worker.post([&ran] { ran.set_value(); });
  REQUIRE(ran.get_future().wait_for(kWait) == std::future_status::ready);
}

ProviderCall call_to(const FakeProviderProcess& fake, const std::string& prompt) {
  ProviderCall call;
  call.api_key = "test-key";
  call.base_url = fake.base_url() + "/v1";
  call.model = "gpt-test";
  call.messages = {{"user", prompt}};
  call.max_tokens = 50;
  return call;
}

HttpRequest openai_request(const FakeProviderProcess& fake, const std::string& prompt) {
  return OpenAiAdapter().build_request(call_to(fake, prompt));
}

HttpRequest anthropic_request(const FakeProviderProcess& fake, const std::string& prompt) {
  ProviderCall call = call_to(fake, prompt);
  call.base_url = fake.base_url();
  return AnthropicAdapter().build_request(call);
}

}  // namespace

TEST_CASE("two hundred concurrent requests all complete with their own replies") {
  FakeProviderProcess fake({"--threads", "64"});
  Worker worker;
  Collector got;
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    submit(worker, openai_request(fake, "request " + std::to_string(i)), {}, got.callback(i));
  }
  REQUIRE(got.wait_for(kCount));
  auto calls = got.calls();
  REQUIRE(calls.size() == kCount);
  for (int i = 0; i < kCount; ++i) {
    CHECK(calls[i] == 1);
    HttpResponse r = got.response(i);
    INFO("request " << i << " error " << r.error);
    REQUIRE(r.transport_ok());
    CHECK(r.status == 200);
    CHECK(r.headers.count("content-type") == 1);
    auto result = OpenAiAdapter().parse_response(r.status, r.headers, r.body, 0);
    REQUIRE(result.status == ProviderResult::Status::kOk);
    CHECK(result.reply.text == "echo: request " + std::to_string(i));
  }
  CHECK(worker.transfers_pending() == 0);
}

TEST_CASE("a response slower than the total timeout is a timeout error") {
  // The fake answers late enough that only the client's timeout can end the
  // transfer; both scale with the sanitizer slowdown.
  const auto late = scaled(std::chrono::milliseconds(5000)).count();
  FakeProviderProcess fake({"--fault", "openai:delay_ms=" + std::to_string(late) + ":times=1"});
  Worker worker;
  Collector got;
  HttpRequestOptions options;
  options.total_timeout_ms = 300;
  submit(worker, openai_request(fake, "slow"), options, got.callback(0));
  REQUIRE(got.wait_for(1));
  HttpResponse r = got.response(0);
  CHECK_FALSE(r.transport_ok());
  CHECK(r.timed_out);
  CHECK(r.total_time_ms >= 250);
  CHECK(r.total_time_ms < 4000 * time_scale());
  auto result = OpenAiAdapter().interpret_response(r, 0);
  CHECK(result.failure.kind == FailureKind::kTimeout);
  CHECK(result.failure.retryable);
}

TEST_CASE("a refused connection is a transport error") {
  // A bound socket that does not listen: connecting to it is refused, and no
  // other process can take the port while we hold it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  int port = ntohs(addr.sin_port);

  Worker worker;
  Collector got;
  HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/messages";
  req.body = "{}";
  submit(worker, req, {}, got.callback(0));
  REQUIRE(got.wait_for(1));
  ::close(fd);
  HttpResponse r = got.response(0);
  CHECK_FALSE(r.transport_ok());
  CHECK_FALSE(r.timed_out);
  CHECK(r.curl_code != 0);
  CHECK_FALSE(r.request_sent);
  auto result = AnthropicAdapter().interpret_response(r, 0);
  CHECK(result.failure.kind == FailureKind::kTransport);
  CHECK(result.failure.retryable);
}

TEST_CASE("a response over the size cap is cut with an error") {
  FakeProviderProcess fake({"--fault", "openai:body_bytes=200000"});
  Worker worker;
  Collector got;
  HttpRequestOptions options;
  options.max_response_bytes = 10000;
  submit(worker, openai_request(fake, "big"), options, got.callback(0));
  // The same reply fits under a larger cap.
  submit(worker, openai_request(fake, "big"), {}, got.callback(1));
  REQUIRE(got.wait_for(2));
  HttpResponse cut = got.response(0);
  CHECK(cut.error == "response over 10000 bytes");
  CHECK(cut.body.size() <= 10000);
  HttpResponse whole = got.response(1);
  CHECK(whole.transport_ok());
  CHECK(whole.body.size() > 200000);
}

TEST_CASE("a truncated response is a transport error") {
  FakeProviderProcess fake({"--fault", "anthropic:truncate:times=1"});
  Worker worker;
  Collector got;
  submit(worker, anthropic_request(fake, "half"), {}, got.callback(0));
  submit(worker, anthropic_request(fake, "whole"), {}, got.callback(1));
  REQUIRE(got.wait_for(2));
  // Which of the two met the fault depends on arrival order.
  int failed = got.response(0).transport_ok() ? 1 : 0;
  CHECK_FALSE(got.response(failed).transport_ok());
  // The request went out: the provider may have served (and billed) it.
  CHECK(got.response(failed).request_sent);
  CHECK(got.response(1 - failed).transport_ok());
}

TEST_CASE("stop with transfers in flight calls every callback exactly once") {
  FakeProviderProcess fake({"--fault", "openai:delay_ms=20000"});
  Worker worker;
  Collector got;
  constexpr int kSlow = 20;
  for (int i = 0; i < kSlow; ++i) {
    submit(worker, openai_request(fake, "slow " + std::to_string(i)), {}, got.callback(i));
  }
  // Anthropic is not delayed: once this reply is back, the slow transfers
  // submitted before it are on the wire.
  submit(worker, anthropic_request(fake, "marker"), {}, got.callback(kSlow));
  REQUIRE(got.wait_for_request(kSlow));
  CHECK(got.response(kSlow).status == 200);
  CHECK(worker.transfers_pending() == kSlow);

  worker.stop_transport();
  drain(worker);  // the transport stops before the next task runs
  auto calls = got.calls();
  REQUIRE(calls.size() == kSlow + 1);
  for (int i = 0; i < kSlow; ++i) {
    CHECK(calls[i] == 1);
    CHECK(got.response(i).error == "shutting down");
    // They were on the wire: the provider may have served them.
    CHECK(got.response(i).request_sent);
  }
  CHECK(worker.transfers_pending() == 0);

  // After stop a submission is answered, once, and says that nothing of it
  // left (nothing to charge).
  submit(worker, openai_request(fake, "late"), {}, got.callback(99));
  REQUIRE(got.wait_for_request(99));
  worker.stop_transport();  // idempotent
  drain(worker);
  CHECK(got.calls()[99] == 1);
  CHECK(got.response(99).error == "shutting down");
  CHECK_FALSE(got.response(99).request_sent);
}

TEST_CASE("a response says its request was sent only once bytes of it left") {
  CHECK_FALSE(HttpResponse{}.request_sent);
  FakeProviderProcess fake;
  Worker worker;
  Collector got;
  submit(worker, anthropic_request(fake, "sent"), {}, got.callback(0));
  REQUIRE(got.wait_for(1));
  CHECK(got.response(0).status == 200);
  CHECK(got.response(0).request_sent);
}

TEST_CASE("an answer is handled on the worker thread that submitted it") {
  FakeProviderProcess fake;
  Worker worker;
  std::promise<std::thread::id> submitted_on;
  std::promise<std::thread::id> answered_on;
  worker.post([&] {
    submitted_on.set_value(std::this_thread::get_id());
    worker.transport().submit(anthropic_request(fake, "here"), {}, {}, [&](HttpResponse) {
      answered_on.set_value(std::this_thread::get_id());
    });
  });
  auto answered = answered_on.get_future();
  REQUIRE(answered.wait_for(kWait) == std::future_status::ready);
  CHECK(answered.get() == submitted_on.get_future().get());
}

TEST_CASE("body chunks arrive in order before the complete answer") {
  FakeProviderProcess fake({"--fault", "openai:body_bytes=200000"});
  Worker worker;
  Collector got;
  std::string chunks;  // worker thread until the answer is in
  size_t pieces = 0;
  submit(worker, openai_request(fake, "in pieces"), {}, got.callback(0),
         [&](std::string_view bytes) {
           chunks.append(bytes);
           ++pieces;
         });
  REQUIRE(got.wait_for(1));
  HttpResponse r = got.response(0);
  REQUIRE(r.transport_ok());
  CHECK(pieces > 1);
  CHECK(chunks == r.body);
}

TEST_CASE("transfers beyond max_active_transfers wait their turn and all complete") {
  FakeProviderProcess fake;
  CurlTransportOptions options;
  options.max_active_transfers = 2;
  Worker worker(options);
  Collector got;
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) {
    submit(worker, anthropic_request(fake, "queued " + std::to_string(i)), {}, got.callback(i));
  }
  REQUIRE(got.wait_for(kCount));
  for (int i = 0; i < kCount; ++i) {
    INFO("request " << i << " error " << got.response(i).error);
    CHECK(got.response(i).status == 200);
  }
  CHECK(worker.transfers_pending() == 0);
}

TEST_CASE("a request still queued at its total timeout fails unsent") {
  const auto slow = scaled(std::chrono::milliseconds(1500)).count();
  FakeProviderProcess fake({"--fault", "openai:delay_ms=" + std::to_string(slow) + ":times=1"});
  CurlTransportOptions one_at_a_time;
  one_at_a_time.max_active_transfers = 1;
  Worker worker(one_at_a_time);
  Collector got;
  submit(worker, openai_request(fake, "slow"), {}, got.callback(0));
  HttpRequestOptions short_wait;
  short_wait.total_timeout_ms = 300;  // over before the slow one is done
  submit(worker, openai_request(fake, "queued"), short_wait, got.callback(1));
  REQUIRE(got.wait_for(2));
  CHECK(got.response(0).status == 200);
  HttpResponse queued = got.response(1);
  CHECK(queued.error == "no connection became free within the total timeout");
  CHECK_FALSE(queued.request_sent);
  CHECK_FALSE(queued.timed_out);
}
