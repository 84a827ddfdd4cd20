#include "daemon/ledger/write_ops.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

namespace tollgate::ledger::detail {
namespace {

template <class Op>
void answer_one(Op& op) {
  if (!op.done || !op.result) return;
  try {
    op.done(std::move(*op.result));
  } catch (const std::exception& e) {
    spdlog::error("ledger: a write callback threw: {}", e.what());
  }
}

// The settlement's own reservation id.
uint64_t settled_id(const WriteOp& op) {
  if (const auto* c = std::get_if<CommitOp>(&op)) return c->req.reservation_id;
  return std::get<ReleaseOp>(op).reservation_id;
}

// What a kept settlement did once applied, for on_late_settlement.
LateSettlement late_settlement(WriteOp& op) {
  LateSettlement late;
  late.reservation_id = settled_id(op);
  auto take = [&late](auto& result, auto& slot) {
    if (!result) {
      late.error = "not applied";
    } else if (!*result) {
      late.error = result->error().message;
    } else {
      slot = std::move(result->value());
    }
  };
  if (auto* c = std::get_if<CommitOp>(&op)) {
    take(c->result, late.commit);
  } else {
    take(std::get<ReleaseOp>(op).result, late.release);
  }
  return late;
}

}  // namespace

// ---- operations
// (Each is built in place in its WriteOp: g++ 12 warns falsely about a
// moved-in operation's empty result slot.)

WriteOp reserve_op(ReserveRequest request, Callback<ReserveOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<ReserveOp>();
  op.req = std::move(request);
  op.done = std::move(done);
  return w;
}

WriteOp commit_op(CommitRequest request, std::optional<StoredReply> stored,
                  Callback<CommitOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<CommitOp>();
  op.req = request;
  op.stored = std::move(stored);
  op.done = std::move(done);
  return w;
}

WriteOp release_op(uint64_t reservation_id, Callback<ReleaseOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<ReleaseOp>();
  op.reservation_id = reservation_id;
  op.done = std::move(done);
  return w;
}

WriteOp reset_op(std::string agent, std::optional<std::string> provider, int64_t now_ms,
                 Callback<ResetOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<ResetOp>();
  op.agent = std::move(agent);
  op.provider = std::move(provider);
  op.now_ms = now_ms;
  op.done = std::move(done);
  return w;
}

WriteOp count_request_op(std::string provider, int64_t now_ms, Callback<uint64_t> done) {
  WriteOp w;
  auto& op = w.emplace<CountRequestOp>();
  op.provider = std::move(provider);
  op.now_ms = now_ms;
  op.done = std::move(done);
  return w;
}

WriteOp idempotency_put_op(std::string agent, std::string key, std::string reply,
                           int64_t expiry_ms, Callback<bool> done) {
  WriteOp w;
  auto& op = w.emplace<IdempotencyPutOp>();
  op.agent = std::move(agent);
  op.key = std::move(key);
  op.reply = std::move(reply);
  op.expiry_ms = expiry_ms;
  op.done = std::move(done);
  return w;
}

WriteOp idempotency_forget_op(std::string agent, std::string key, Callback<bool> done) {
  WriteOp w;
  auto& op = w.emplace<IdempotencyForgetOp>();
  op.agent = std::move(agent);
  op.key = std::move(key);
  op.done = std::move(done);
  return w;
}

WriteOp prune_op(int64_t now_ms, size_t max_rows, Callback<PruneOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<PruneOp>();
  op.now_ms = now_ms;
  op.max_rows = max_rows;
  op.done = std::move(done);
  return w;
}

WriteOp probe_op(Callback<bool> done) {
  WriteOp w;
  w.emplace<ProbeOp>().done = std::move(done);
  return w;
}

WriteOp set_limit_op(SetLimitRequest request, Callback<SetLimitOutcome> done) {
  WriteOp w;
  auto& op = w.emplace<SetLimitOp>();
  op.req = std::move(request);
  op.done = std::move(done);
  return w;
}

WriteOp forecasts_op(int64_t now_ms, Callback<std::vector<Alert>> done) {
  WriteOp w;
  auto& op = w.emplace<ForecastsOp>();
  op.now_ms = now_ms;
  op.done = std::move(done);
  return w;
}

WriteOp outbox_done_op(OutboxKey key, Callback<bool> done) {
  WriteOp w;
  auto& op = w.emplace<OutboxDoneOp>();
  op.key = std::move(key);
  op.done = std::move(done);
  return w;
}

WriteOp outbox_drop_op(std::string destination, Callback<uint64_t> done) {
  WriteOp w;
  auto& op = w.emplace<OutboxDropOp>();
  op.destination = std::move(destination);
  op.done = std::move(done);
  return w;
}

WriteOp levels_op(int64_t now_ms, Callback<std::vector<Alert>> done) {
  WriteOp w;
  auto& op = w.emplace<LevelsOp>();
  op.now_ms = now_ms;
  op.done = std::move(done);
  return w;
}

std::vector<WriteOp> open_batch(int64_t now_ms, bool exclusive) {
  std::vector<WriteOp> batch;
  batch.reserve(2);
  RecoverOp recover;
  recover.now_ms = now_ms;
  recover.exclusive = exclusive;
  batch.emplace_back(std::move(recover));
  // Then every budget's levels against the limits of this start (a ledger
  // of an older tollgated, or limits changed while it was down).
  LevelsOp levels;
  levels.now_ms = now_ms;
  batch.emplace_back(std::move(levels));
  return batch;
}

Result<OpenReport> open_report(std::vector<WriteOp>& batch) {
  auto& recovered = std::get<RecoverOp>(batch.front()).result;
  if (!recovered) return Error::internal("ledger: recovery did not run");
  if (!*recovered) return recovered->error();
  OpenReport report = std::move(recovered->value());
  auto& levels = std::get<LevelsOp>(batch.back()).result;
  if (!levels) return Error::internal("ledger: the level check did not run");
  if (!*levels) return levels->error();
  for (auto& a : levels->value()) report.alerts.push_back(std::move(a));
  return report;
}

// ---- BatchApplier

BatchApplier::BatchApplier(RowStore& store, const BudgetPolicy& policy,
                           accounting::AdmissionClock clock)
    : store_(store), policy_(policy), state_(store.meta(), clock) {}

void BatchApplier::apply(WriteOp& op) {
  std::visit([this](auto& o) { apply_one(o); }, op);
}

void BatchApplier::finish() { store_.apply(state_.finish()); }

void BatchApplier::apply_one(ReserveOp& op) {
  op.parked = false;
  auto ruled = accounting::reserve(store_, policy_, state_, op.req, op.waiting);
  store_.apply(ruled.changes);
  if (ruled.outcome) {
    op.result = std::move(*ruled.outcome);
  } else {
    op.parked = true;
  }
}

void BatchApplier::apply_one(CommitOp& op) {
  auto ruled = accounting::commit(store_, policy_, state_, op.req, op.stored);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(ReleaseOp& op) {
  auto ruled = accounting::release(store_, op.reservation_id);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(ResetOp& op) {
  auto ruled = accounting::reset(store_, policy_, state_, op.agent, op.provider, op.now_ms);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(CountRequestOp& op) {
  auto ruled = accounting::count_request(store_, op.provider, op.now_ms);
  store_.apply(ruled.changes);
  op.result = ruled.outcome;
}

void BatchApplier::apply_one(IdempotencyPutOp& op) {
  store_.apply(accounting::idempotency_put(op.agent, op.key, op.reply, op.expiry_ms));
  op.result = true;
}

void BatchApplier::apply_one(IdempotencyForgetOp& op) {
  auto ruled = accounting::idempotency_forget(store_, op.agent, op.key);
  store_.apply(ruled.changes);
  op.result = ruled.outcome;
}

void BatchApplier::apply_one(PruneOp& op) {
  auto ruled = accounting::prune(store_, op.now_ms, op.max_rows);
  store_.apply(ruled.changes);
  op.result = ruled.outcome;
}

void BatchApplier::apply_one(ProbeOp& op) {
  store_.probe();
  op.result = true;
}

void BatchApplier::apply_one(RecoverOp& op) {
  auto ruled = accounting::recover(store_, policy_, state_, op.now_ms);
  store_.apply(ruled.changes);
  if (op.exclusive) store_.apply(accounting::clear_stray_reserved(store_));
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(SetLimitOp& op) {
  auto ruled = accounting::set_limit(store_, policy_, state_, op.req);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(ForecastsOp& op) {
  auto ruled = accounting::check_forecasts(store_, policy_, state_, op.now_ms);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

void BatchApplier::apply_one(OutboxDoneOp& op) {
  auto ruled = accounting::outbox_done(store_, op.key);
  store_.apply(ruled.changes);
  op.result = ruled.outcome;
}

void BatchApplier::apply_one(OutboxDropOp& op) {
  auto ruled = accounting::outbox_drop(store_, op.destination);
  store_.apply(ruled.changes);
  op.result = ruled.outcome;
}

void BatchApplier::apply_one(LevelsOp& op) {
  auto ruled = accounting::reevaluate_levels(store_, policy_, state_, op.now_ms);
  store_.apply(ruled.changes);
  op.result = std::move(ruled.outcome);
}

// ---- answering

bool is_parked(const WriteOp& op) {
  const auto* r = std::get_if<ReserveOp>(&op);
  return r != nullptr && r->parked;
}

bool is_probe(const WriteOp& op) { return std::holds_alternative<ProbeOp>(op); }

bool is_settlement(const WriteOp& op) {
  return std::holds_alternative<CommitOp>(op) || std::holds_alternative<ReleaseOp>(op);
}

bool may_free_room(const WriteOp& op) {
  return is_settlement(op) || std::holds_alternative<ResetOp>(op) ||
         std::holds_alternative<LevelsOp>(op) || std::holds_alternative<SetLimitOp>(op);
}

void answer(WriteOp& op) {
  std::visit([](auto& o) { answer_one(o); }, op);
}

void answer_all(std::vector<WriteOp>& batch) {
  for (auto& op : batch) answer(op);
}

std::function<void()> take_answer(WriteOp& op) {
  return std::visit(
      [](auto& o) -> std::function<void()> {
        if (!o.done || !o.result) return {};
        auto done = std::move(o.done);
        o.done = nullptr;
        return [done = std::move(done), result = std::move(*o.result)]() mutable {
          try {
            done(std::move(result));
          } catch (const std::exception& e) {
            spdlog::error("ledger: a write callback threw: {}", e.what());
          }
        };
      },
      op);
}

void fail(WriteOp& op, const Error& error) {
  std::visit([&](auto& o) { o.result = error; }, op);
  answer(op);
}

void refuse(std::vector<WriteOp>& batch, const std::string& reason) {
  const Error error = Error::ledger_unavailable(reason, kLedgerRetryMs);
  for (auto& op : batch) {
    if (auto* c = std::get_if<CommitOp>(&op)) {
      CommitOutcome out;
      out.deferred = true;
      out.deferred_reason = reason;
      c->result = std::move(out);
    } else if (auto* r = std::get_if<ReleaseOp>(&op)) {
      r->result = ReleaseOutcome{0, true, reason};
    } else {
      if (auto* w = std::get_if<ReserveOp>(&op)) w->parked = false;
      std::visit([&](auto& o) { o.result = error; }, op);
    }
  }
}

size_t keep_settlements(std::vector<WriteOp>& batch, std::vector<WriteOp>& kept) {
  size_t moved = 0;
  for (auto& op : batch) {
    if (!is_settlement(op)) continue;
    std::visit([](auto& o) { o.done = nullptr; }, op);  // answered: deferred
    kept.push_back(std::move(op));
    ++moved;
  }
  if (moved > 0) {
    spdlog::warn("ledger: {} settlements kept until the ledger recovers ({} in all)", moved,
                 kept.size());
  }
  return moved;
}

std::vector<LateSettlement> late_settlements(std::vector<WriteOp>& applied) {
  std::vector<LateSettlement> out;
  out.reserve(applied.size());
  for (auto& op : applied) {
    out.push_back(late_settlement(op));
    const LateSettlement& settled = out.back();
    if (!settled.error.empty()) {
      spdlog::error("ledger: a kept settlement of reservation {} could not be applied: {}",
                    settled.reservation_id, settled.error);
    }
  }
  return out;
}

void report_late(const std::vector<LateSettlement>& late,
                 const std::function<void(const LateSettlement&)>& listener) {
  if (!listener) return;
  for (const auto& settled : late) {
    try {
      listener(settled);
    } catch (const std::exception& e) {
      spdlog::error("ledger: the late settlement listener threw: {}", e.what());
    }
  }
}

// ---- the admission queue

void park(std::vector<WriteOp>& batch, std::vector<WriteOp>& waiters) {
  for (auto& op : batch) {
    if (is_parked(op)) waiters.push_back(std::move(op));
  }
}

std::map<std::string, uint64_t> waiting_counts(const std::vector<WriteOp>& waiters) {
  std::map<std::string, uint64_t> counts;
  for (const auto& op : waiters) counts[std::get<ReserveOp>(op).req.provider] += 1;
  return counts;
}

std::chrono::steady_clock::time_point next_deadline(const std::vector<WriteOp>& waiters) {
  auto next = std::chrono::steady_clock::time_point::max();
  for (const auto& op : waiters) next = std::min(next, std::get<ReserveOp>(op).req.wait_until);
  return next;
}

}  // namespace tollgate::ledger::detail
