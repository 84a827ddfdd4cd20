// The fingerprint of a call request (daemon/core/call_fingerprint.h): equal for
// the same content, different when any field a provider would see differs.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "daemon/core/call_fingerprint.h"

using tollgate::call_fingerprint;
using tollgate::protocol::CallRequest;

namespace {

CallRequest base_request() {
  CallRequest r;
  r.ai_name = "imperium";
  r.messages = {{"user", "hello"}, {"assistant", "hi"}, {"user", "summarise"}};
  r.system = "be brief";
  r.max_tokens = 300;
  r.temperature = 0.5;
  r.model = "claude-test";
  r.preferred_provider = "anthropic";
  r.idempotency_key = "order-42";
  return r;
}

}  // namespace

TEST_CASE("the same call content gives the same 32 byte fingerprint") {
  const auto a = call_fingerprint(base_request());
  CHECK(a.size() == tollgate::kCallFingerprintBytes);
  CHECK(call_fingerprint(base_request()) == a);
}

TEST_CASE("the request id and timeout and key of a repeat do not change the fingerprint") {
  CallRequest repeat = base_request();
  repeat.timeout_ms = 5000;
  repeat.idempotency_key = "another-key";
  CHECK(call_fingerprint(repeat) == call_fingerprint(base_request()));
}

TEST_CASE("every field a provider would see changes the fingerprint") {
  const std::vector<std::function<void(CallRequest&)>> changes = {
      [](CallRequest& r) { r.ai_name = "guardian"; },
      [](CallRequest& r) { r.messages[2].content = "summarise it"; },
      [](CallRequest& r) { r.messages[1].role = "user"; },
      [](CallRequest& r) { r.messages.pop_back(); },
      [](CallRequest& r) { r.system = "be long"; },
      [](CallRequest& r) { r.system.reset(); },
      [](CallRequest& r) { r.max_tokens = 301; },
      [](CallRequest& r) { r.max_tokens.reset(); },
      [](CallRequest& r) { r.temperature = 0.6; },
      [](CallRequest& r) { r.model = "gpt-test"; },
      [](CallRequest& r) { r.preferred_provider = "openai"; },
      [](CallRequest& r) { r.preferred_provider.reset(); },
  };
  const auto original = call_fingerprint(base_request());
  for (size_t i = 0; i < changes.size(); ++i) {
    INFO("change " << i);
    CallRequest r = base_request();
    changes[i](r);
    CHECK(call_fingerprint(r) != original);
  }
}

TEST_CASE("field boundaries are part of the fingerprint") {
  // Concatenated, these would be the same bytes.
  CallRequest a;
  a.ai_name = "imperium";
  a.prompt = "ab";
  a.system = "c";
  CallRequest b;
  b.ai_name = "imperium";
  b.prompt = "a";
  b.system = "bc";
  CHECK(call_fingerprint(a) != call_fingerprint(b));
}
