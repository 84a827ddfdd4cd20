#include "workers/providers/adapter_registry.h"

#include "workers/providers/anthropic_adapter.h"
#include "workers/providers/openai_adapter.h"

namespace tollgate::workers {

void AdapterRegistry::add(std::unique_ptr<const ProviderAdapter> adapter) {
  std::string name(adapter->name());
  adapters_[std::move(name)] = std::move(adapter);
}

const ProviderAdapter* AdapterRegistry::find(std::string_view api) const {
  auto it = adapters_.find(api);
  return it == adapters_.end() ? nullptr : it->second.get();
}

std::vector<std::string> AdapterRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(adapters_.size());
  for (const auto& [name, adapter] : adapters_) out.push_back(name);
  return out;
}

const AdapterRegistry& AdapterRegistry::builtin() {
  static const std::unique_ptr<const AdapterRegistry> registry = [] {
    auto r = std::make_unique<AdapterRegistry>();
    r->add(std::make_unique<AnthropicAdapter>());
    r->add(std::make_unique<OpenAiAdapter>());
    return std::unique_ptr<const AdapterRegistry>(std::move(r));
  }();
  return *registry;
}

}  // namespace tollgate::workers
