#include "daemon/core/call_fingerprint.h"

#include <sodium.h>

#include <msgpack.hpp>

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

}  // namespace

std::string call_fingerprint(const protocol::CallRequest& request) {
  // A version tag first: a later change of what is hashed must not make an
  // old fingerprint match a different request.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
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

}  // namespace tollgate
