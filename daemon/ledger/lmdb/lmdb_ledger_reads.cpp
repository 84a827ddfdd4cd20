// The read side of the LMDB ledger: each read method (row_ledger.h) runs its
// rule in its own read-only transaction on the caller's thread
// (MDB_NOTLS), holding the resize lock shared for as long as the
// transaction is open.
#include "daemon/ledger/lmdb/lmdb_ledger.h"
#include "daemon/ledger/lmdb/lmdb_ledger_impl.h"
#include "daemon/ledger/lmdb/lmdb_rows.h"

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

}  // namespace tollgate::ledger
