// The fingerprint of a `call` request: what an idempotency key promises
// stays the same between a call and its repeats (PROTOCOL.md section 3,
// `call`: a repeat whose request differs gets `bad_request`).
//
// SHA-256 (libsodium) over a canonical msgpack encoding of the provider-
// neutral content exactly as the client sent it: ai_name, prompt or
// messages, system, max_tokens, temperature, model, preferred_provider. A
// field left out differs from the same value given explicitly (the
// daemon's default may change between the two). Not included: id,
// timeout_ms, stream (section 9: a streamed call's repeat gets the stored
// final reply, streamed or not), cache (section 10) and idempotency_key
// itself, which a repeat may change.
// A call using section 8 (content blocks, system blocks, tools,
// tool_choice, stop_sequences, top_p) hashes all of them under a second
// version tag; a text-only call hashes exactly as before section 8, so a
// record stored by an older daemon still matches its repeat.
//
// Pure function; any thread.
#pragma once

#include <string>

#include "protocol/requests.h"

namespace tollgate {

inline constexpr size_t kCallFingerprintBytes = 32;

// kCallFingerprintBytes raw bytes.
std::string call_fingerprint(const protocol::CallRequest& request);

// The first 12 hex digits of SHA-256(secret): names a secret (the HTTP
// admin token in the audit trail) without revealing it.
std::string secret_digest(std::string_view secret);

}  // namespace tollgate
