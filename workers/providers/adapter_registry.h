// AdapterRegistry: the provider wire formats tollgated knows, by API name
// (the `api` of a provider in the configuration). The composition root
// hands names() to the config loader, so a provider whose api no adapter
// reads is a configuration error; the call path asks find() for the
// adapter of each provider it tries.
//
// Threads: built before use (add() on one thread), then read-only: find()
// and names() from any thread. The registry owns its adapters; the
// pointers find() returns live as long as it does.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "workers/providers/provider_adapter.h"

namespace tollgate::workers {

class AdapterRegistry {
 public:
  AdapterRegistry() = default;
  AdapterRegistry(const AdapterRegistry&) = delete;
  AdapterRegistry& operator=(const AdapterRegistry&) = delete;

  // Adds an adapter under its name(); it replaces one of the same name.
  void add(std::unique_ptr<const ProviderAdapter> adapter);
  // The adapter for this API name; nullptr for a name none has.
  const ProviderAdapter* find(std::string_view api) const;
  // The API names, sorted.
  std::vector<std::string> names() const;

  // The adapters tollgate ships: "anthropic" and "openai". Immutable.
  static const AdapterRegistry& builtin();

 private:
  std::map<std::string, std::unique_ptr<const ProviderAdapter>, std::less<>> adapters_;
};

}  // namespace tollgate::workers
