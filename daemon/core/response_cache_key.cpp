#include "daemon/core/response_cache_key.h"

#include <sodium.h>

#include <msgpack.hpp>

#include "protocol/codec.h"

namespace tollgate {
namespace {

void pack_provider(msgpack::packer<msgpack::sbuffer>& pk, const Config& config,
                   const std::string& agent, const ProviderConfig& p) {
  pk.pack_array(4);
  pk.pack(p.name);
  pk.pack(p.api);
  pk.pack(p.base_url);
  pk.pack(config.model_for(agent, p.name));
}

}  // namespace

std::string response_cache_key(const protocol::CallRequest& request, const Config& config) {
  protocol::CallRequest content = request;
  if (!config.cache_per_agent) content.ai_name.clear();
  content.idempotency_key.reset();
  content.timeout_ms.reset();
  content.stream = false;
  content.cache = false;
  // What the provider gets either way: the default written out matches it
  // left out.
  content.max_tokens = request.max_tokens.value_or(config.default_max_tokens);
  content.temperature = request.temperature.value_or(config.default_temperature);
  const std::string bytes = protocol::encode_request(protocol::RequestId{}, content);

  const auto chain = config.chain_for(request.ai_name);
  const ProviderConfig* preferred =
      request.preferred_provider ? config.provider(*request.preferred_provider) : nullptr;
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(4);
  pk.pack(std::string("cache/1"));
  pk.pack_bin(static_cast<uint32_t>(bytes.size()));
  pk.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
  pk.pack_array(static_cast<uint32_t>(chain.size()));
  for (const ProviderConfig* p : chain) pack_provider(pk, config, request.ai_name, *p);
  if (preferred) {
    pack_provider(pk, config, request.ai_name, *preferred);
  } else {
    pk.pack_nil();
  }
  static const int sodium_ready = sodium_init();
  (void)sodium_ready;
  std::string out(crypto_hash_sha256_BYTES, '\0');
  static_assert(crypto_hash_sha256_BYTES == kResponseCacheKeyBytes);
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(buf.data()), buf.size());
  return out;
}

}  // namespace tollgate
