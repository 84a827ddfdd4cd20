// The fake's prompt caches: which prompt prefixes it has seen, by hash, so
// a repeat reports cache reads as the real services do.
//
// Anthropic caches what the request marks with cache_control: the longest
// marked prefix seen before is read, the rest up to the last mark is
// written. (The real service caches only prefixes of 1024 tokens or more;
// the fake caches any, so tests stay small.) OpenAI caches on its own: a
// prefix ending at a message boundary of at least 1024 tokens, seen before,
// counts as cached in steps of 128 tokens past 1024.
//
// Bounded: the oldest prefixes are forgotten past `capacity`. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

#include "daemon/core/sync.h"

namespace tollgate::fake_provider {

struct CachedPrefix {
  uint64_t hash = 0;
  uint64_t tokens = 0;  // of the whole prefix
};

struct CacheUsage {
  uint64_t read = 0;      // Anthropic cache_read_input_tokens / OpenAI cached_tokens
  uint64_t creation = 0;  // Anthropic cache_creation_input_tokens
};

inline constexpr uint64_t kOpenAiMinCachedTokens = 1024;
inline constexpr uint64_t kOpenAiCacheStep = 128;

class PromptCache {
 public:
  explicit PromptCache(size_t capacity = 4096) : capacity_(capacity) {}

  // `marks`: the request's cache_control prefixes, in prompt order.
  CacheUsage anthropic(const std::vector<CachedPrefix>& marks);
  // `prefixes`: the prompt up to the end of each message, in order.
  CacheUsage openai(const std::vector<CachedPrefix>& prefixes);
  void clear();

 private:
  bool seen(uint64_t hash) const REQUIRES(mu_) { return hashes_.count(hash) > 0; }
  void remember(uint64_t hash) REQUIRES(mu_);

  const size_t capacity_;
  mutable Mutex mu_;
  std::unordered_set<uint64_t> hashes_ GUARDED_BY(mu_);
  std::deque<uint64_t> order_ GUARDED_BY(mu_);  // oldest first
};

}  // namespace tollgate::fake_provider
