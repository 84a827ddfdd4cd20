#include "tools/fake-provider/prompt_cache.h"

#include <algorithm>

namespace tollgate::fake_provider {

CacheUsage PromptCache::anthropic(const std::vector<CachedPrefix>& marks) {
  CacheUsage usage;
  if (marks.empty()) return usage;
  MutexLock lock(mu_);
  for (const auto& mark : marks) {
    if (seen(mark.hash)) usage.read = std::max(usage.read, mark.tokens);
  }
  const CachedPrefix& last = marks.back();
  if (!seen(last.hash)) usage.creation = last.tokens - std::min(usage.read, last.tokens);
  for (const auto& mark : marks) remember(mark.hash);
  return usage;
}

CacheUsage PromptCache::openai(const std::vector<CachedPrefix>& prefixes) {
  CacheUsage usage;
  MutexLock lock(mu_);
  for (const auto& p : prefixes) {
    if (p.tokens < kOpenAiMinCachedTokens) continue;
    if (seen(p.hash)) {
      const uint64_t steps = (p.tokens - kOpenAiMinCachedTokens) / kOpenAiCacheStep;
      usage.read = std::max(usage.read, kOpenAiMinCachedTokens + steps * kOpenAiCacheStep);
    }
    remember(p.hash);
  }
  return usage;
}

void PromptCache::clear() {
  MutexLock lock(mu_);
  hashes_.clear();
  order_.clear();
}

void PromptCache::remember(uint64_t hash) {
  if (!hashes_.insert(hash).second) return;
  order_.push_back(hash);
  if (order_.size() > capacity_) {
    hashes_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace tollgate::fake_provider
