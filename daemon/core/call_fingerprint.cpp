#include "daemon/core/call_fingerprint.h"

#include <sodium.h>

#include <msgpack.hpp>

#include "protocol/codec.h"

namespace tollgate {
namespace {

template <class T>
void pack_optional(msgpack::packer<msgpack::sbuffer>& pk, const std::optional<T>& v) {
  if (v) {
    pk.pack(*v);
  } else {
    pk.pack_nil();
  }
}

// Version 1, for text-only calls (so that a record stored before section 8
// still matches its repeat): the fields one by one.
void pack_text_only(msgpack::packer<msgpack::sbuffer>& pk, const protocol::CallRequest& request) {
  pk.pack_array(9);
  pk.pack(std::string("call/1"));
  pk.pack(request.ai_name);
  pack_optional(pk, request.prompt);
  pk.pack_array(static_cast<uint32_t>(request.messages.size()));
  for (const auto& m : request.messages) {
    pk.pack_array(2);
    pk.pack(m.role);
    pk.pack(m.content);
  }
  pack_optional(pk, request.system);
  pack_optional(pk, request.max_tokens);
  // Always float64, so 1 and 1.0 hash alike.
  if (request.temperature) {
    pk.pack_double(*request.temperature);
  } else {
    pk.pack_nil();
  }
  pack_optional(pk, request.model);
  pack_optional(pk, request.preferred_provider);
}

// Version 2, for a call using any part of section 8: the call's canonical
// encoding (encode_request: fixed key order, floats as float64, tool
// inputs and schemas in the client's key order) without what a repeat may
// change.
void pack_full_fidelity(msgpack::packer<msgpack::sbuffer>& pk, const protocol::CallRequest& request) {
  protocol::CallRequest content = request;
  content.idempotency_key.reset();
  content.timeout_ms.reset();
  content.stream = false;  // section 9: a repeat may stream or not
  content.cache = false;   // section 10: a repeat may ask for the cache or not
  const std::string bytes = protocol::encode_request(protocol::RequestId{}, content);
  pk.pack_array(2);
  pk.pack(std::string("call/2"));
  pk.pack_bin(static_cast<uint32_t>(bytes.size()));
  pk.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
}

}  // namespace

std::string call_fingerprint(const protocol::CallRequest& request) {
  // A version tag first: a later change of what is hashed must not make an
  // old fingerprint match a different request.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  if (request.full_fidelity()) {
    pack_full_fidelity(pk, request);
  } else {
    pack_text_only(pk, request);
  }
  // sodium_init is idempotent and thread-safe; SHA-256 needs nothing it
  // could fail to set up, so its result is not checked.
  static const int sodium_ready = sodium_init();
  (void)sodium_ready;
  std::string out(crypto_hash_sha256_BYTES, '\0');
  static_assert(crypto_hash_sha256_BYTES == kCallFingerprintBytes);
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(buf.data()), buf.size());
  return out;
}

std::string secret_digest(std::string_view secret) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 6; ++i) {
    out.push_back(kHex[hash[i] >> 4]);
    out.push_back(kHex[hash[i] & 0xf]);
  }
  return out;
}

}  // namespace tollgate
