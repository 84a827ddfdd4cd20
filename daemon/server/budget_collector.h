// The scrape-time part of GET /metrics: token usage, reservations and
// limits per agent and provider, global usage and limits, and each
// provider's circuit state, read when Prometheus asks (through the
// StatusReader: read transactions and ProviderRuntime's lock), so the
// numbers are the ledger's, never a second count kept beside it.
//
// Threads: the collector runs on whichever thread renders the registry
// (the HTTP listener's). `status` and whatever `config` reads must outlive
// every render.
#pragma once

#include <functional>
#include <memory>

#include "daemon/core/config.h"
#include "daemon/server/metrics.h"
#include "daemon/server/status_reader.h"

namespace tollgate {

void add_budget_collector(metrics::Registry& registry, const StatusReader& status,
                          std::function<std::shared_ptr<const Config>()> config);

}  // namespace tollgate
