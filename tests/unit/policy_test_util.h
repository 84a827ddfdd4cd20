// Helpers shared by the policy unit tests: the default two-provider chain
// (anthropic, then openai) for agent "imperium", both configured, unused.
// Pure values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "daemon/core/policy/selection.h"

namespace tollgate::policy::testing {

// Positions in default_input().chain.
inline constexpr size_t kAnthropic = 0;
inline constexpr size_t kOpenAi = 1;

inline ProviderSnapshot provider(const char* name, const char* env, uint64_t agent_limit) {
  ProviderSnapshot p;
  p.name = name;
  p.api_key_env = env;
  p.configured = true;
  p.agent.limit = agent_limit;
  return p;
}

inline SelectionInput default_input() {
  SelectionInput in;
  in.agent = "imperium";
  in.chain.push_back(provider("anthropic", "ANTHROPIC_API_KEY", 140000));
  in.chain.push_back(provider("openai", "OPENAI_API_KEY", 9000));
  in.reservation = 1100;
  in.fallback_threshold = 0.95;
  return in;
}

}  // namespace tollgate::policy::testing
