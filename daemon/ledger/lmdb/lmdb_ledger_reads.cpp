// The read side of the LMDB ledger: each read method (row_ledger.h) runs its
// rule in its own read-only transaction on the caller's thread
// (MDB_NOTLS), holding the resize lock shared for as long as the
// transaction is open.
#include "daemon/ledger/lmdb/lmdb_ledger.h"

#include "daemon/ledger/lmdb/lmdb_ledger_impl.h"
#include "daemon/ledger/lmdb/lmdb_rows.h"
#include "daemon/ledger/reads.h"

namespace tollgate::ledger {

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
    auto kept = impl_->snapshots.find(agent, now_ms, [&](const Impl::SnapshotTag& tag) {
      return tag.txn_id == txn_id && tag.policy == pol;
    });
    if (kept) return *kept;
    const detail::LmdbRows rows(txn.get(), env.tables());
    BudgetSnapshot read = reads::snapshot(rows, *pol, agent, now_ms);
    impl_->snapshots.keep(agent, Impl::SnapshotTag{txn_id, std::move(pol)}, read);
    return read;
  } catch (const detail::MdbError& e) {
    return Error::internal("ledger read failed in " + env.dir() + ": " + e.what());
  }
}

}  // namespace tollgate::ledger
