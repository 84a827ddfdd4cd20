// The key of a `call` in the response cache (PROTOCOL.md section 10): two
// calls with the same key would send the same request to the same models,
// so the answer to one may be served to the other.
//
// SHA-256 (libsodium) over a version tag, the call's canonical encoding
// (encode_request: fixed key order, floats as float64) with max_tokens and
// temperature resolved to the configuration's defaults when the call left
// them out, and without what does not reach a provider: id, ai_name (kept
// when Config::cache_per_agent), idempotency_key, timeout_ms, stream and
// cache; then the agent's resolved model chain: for each provider of
// Config::chain_for(agent), and the preferred provider when the call names
// one, its name, api, base URL and the model the agent's calls send it.
// A change of the chain, an agent's default model or a provider's model
// therefore misses; so does `prompt` against the same text as `messages`
// (a miss is only a provider call, never a wrong answer).
//
// Pure function; any thread.
#pragma once

#include <string>

#include "daemon/core/config.h"
#include "protocol/requests.h"

namespace tollgate {

inline constexpr size_t kResponseCacheKeyBytes = 32;

// kResponseCacheKeyBytes raw bytes.
std::string response_cache_key(const protocol::CallRequest& request, const Config& config);

}  // namespace tollgate
