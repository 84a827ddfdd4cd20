// The read side of the LMDB ledger: each read method (row_ledger.h) runs its
// rule in its own read-only transaction on the caller's thread
// (MDB_NOTLS), holding the resize lock shared for as long as the
// transaction is open.
#include "daemon/ledger/lmdb/lmdb_ledger.h"

#include "daemon/core/period.h"
#include "daemon/ledger/lmdb/lmdb_ledger_impl.h"
#include "daemon/ledger/lmdb/lmdb_rows.h"
#include "daemon/ledger/reads.h"

namespace tollgate::ledger {
namespace {

// Agents whose snapshots are kept; past it, all are dropped and read again.
constexpr size_t kMaxKeptSnapshots = 10000;

}  // namespace

Result<void> LmdbLedger::read_rows(const RowReader& reader) const {
  const auto pol = impl_->current_policy();
  const detail::LmdbEnv& env = *impl_->env;
  try {
    detail::ReadTxn txn(env);
    if (impl_->options.inside_read) impl_->options.inside_read();
    const detail::LmdbRows rows(txn.get(), env.tables());
    reader(rows, *pol);
    return {};
  } catch (const detail::MdbError& e) {
    return Error::internal("ledger read failed in " + env.dir() + ": " + e.what());
  }
}

Result<BudgetSnapshot> LmdbLedger::snapshot(const std::string& agent, int64_t now_ms) const {
  auto pol = impl_->current_policy();
  const detail::LmdbEnv& env = *impl_->env;
  try {
    detail::ReadTxn txn(env);
    if (impl_->options.inside_read) impl_->options.inside_read();
    const uint64_t txn_id = mdb_txn_id(txn.get());
    {
      MutexLock lock(impl_->snapshots_mu);
      auto it = impl_->snapshots.find(agent);
      // A new month with no write yet: read, as the period may roll over.
      if (it != impl_->snapshots.end() && it->second.txn_id == txn_id &&
          it->second.policy == pol && it->second.snapshot.period == period_name_of(now_ms)) {
        return it->second.snapshot;
      }
    }
    const detail::LmdbRows rows(txn.get(), env.tables());
    BudgetSnapshot read = reads::snapshot(rows, *pol, agent, now_ms);
    MutexLock lock(impl_->snapshots_mu);
    if (impl_->snapshots.size() >= kMaxKeptSnapshots) impl_->snapshots.clear();
    impl_->snapshots.insert_or_assign(agent, Impl::KeptSnapshot{txn_id, std::move(pol), read});
    return read;
  } catch (const detail::MdbError& e) {
    return Error::internal("ledger read failed in " + env.dir() + ": " + e.what());
  }
}

}  // namespace tollgate::ledger
