// Shared by the C++ client's integration tests: the real fake-provider and
// tollgated (tests/integration's harness) and a tollgate::Client on them.
// Main thread only, like Catch2's assertions.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <tollgate/client.hpp>

#include "tests/integration/call_harness.h"

namespace tollgate::client_test {

using namespace std::chrono_literals;
using testing::scaled;

inline constexpr const char* kAgent = "imperium";

// fake-provider and a tollgated pointed at it (anthropic, then openai).
struct Stack {
  explicit Stack(testing::Env extra = {}, std::vector<std::string> args = {})
      : daemon(testing::merge(fake.provider_env(), extra), std::move(args)) {}
  testing::FakeProviderProcess fake;
  testing::TollgatedProcess daemon;

  // A client whose bound on an expected reply is stretched for sanitizers.
  tollgate::Client client(Options options = {}) const {
    options.timeout = scaled(10s);
    return tollgate::Client(daemon.requests(), options);
  }
};

inline CallOptions prompt_call(const std::string& prompt, uint64_t max_tokens = 50) {
  CallOptions o;
  o.ai_name = kAgent;
  o.prompt = prompt;
  o.max_tokens = max_tokens;
  return o;
}

}  // namespace tollgate::client_test
