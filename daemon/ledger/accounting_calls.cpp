// The accounting rules of one call: reserve (admission), commit, release,
// the day counter, and the idempotency records. See accounting.h.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/ledger/accounting.h"
#include "daemon/ledger/accounting_rule.h"

namespace tollgate::ledger::accounting {
namespace {

// A refusal: changes nothing but a rollover the operation started.
ReserveOutcome refused(ReserveOutcome out, const ReserveRequest& request, Waiting& waiting,
                       ReserveStatus status, RefusedBy by, const UsageRow& row, uint64_t limit) {
  out.status = status;
  out.refused_by = by;
  out.needed = request.amount;
  out.left = minus(limit, row.used);
  out.in_flight = row.reserved;
  out.limit = limit;
  out.waited = waiting.waited;
  if (!out.rollover) out.rollover = std::move(waiting.rollover_seen);
  return out;
}

// The same, by a dollar budget (section 10).
ReserveOutcome refused_usd(ReserveOutcome out, const ReserveRequest& request, Waiting& waiting,
                           ReserveStatus status, RefusedBy by, const UsageRow& row,
                           double limit_usd) {
  out.status = status;
  out.refused_by = by;
  out.usd = true;
  out.needed = request.amount;
  out.needed_usd = request.full_cost_usd;
  out.left_usd = std::max(0.0, limit_usd - row.cost_usd);
  out.in_flight_usd = row.reserved_usd;
  out.limit_usd = limit_usd;
  out.waited = waiting.waited;
  if (!out.rollover) out.rollover = std::move(waiting.rollover_seen);
  return out;
}

// A budget's fit in tokens and, when it has one, in dollars: the worse of
// the two, and whether that is the dollar one.
struct ScopeFit {
  Fit fit = Fit::kFits;
  bool usd = false;
};
int severity(Fit f) {
  switch (f) {
    case Fit::kNever: return 3;
    case Fit::kThreshold: return 2;
    case Fit::kWaits: return 1;
    case Fit::kFits: return 0;
  }
  return 0;
}
ScopeFit scope_fit(Fit tokens, std::optional<Fit> dollars) {
  if (dollars && severity(*dollars) > severity(tokens)) return {*dollars, true};
  return {tokens, false};
}

// Holds the room: usage rows, the reservation, the day counter and the
// idempotent call's pending marker.
ReserveOutcome take_room(Rule& rule, const ReserveRequest& r, ReserveOutcome out, UsageRow a,
                         UsageRow g, Waiting& waiting) {
  if (!out.rollover) out.rollover = std::move(waiting.rollover_seen);
  a.reserved += r.amount;
  g.reserved += r.amount;
  a.reserved_usd += r.full_cost_usd;
  g.reserved_usd += r.full_cost_usd;
  rule.put_usage(BudgetKey{out.period, r.agent, r.provider}, a);
  rule.put_usage(BudgetKey{out.period, kGlobalScope, r.provider}, g);
  BatchState& state = rule.state();
  out.reservation_id = state.next_reservation++;
  state.counters_dirty = true;
  rule.put_reservation(out.reservation_id, ReservationRow{r.agent, r.provider, out.period,
                                                          r.request_id, r.amount, r.now_ms,
                                                          r.full_cost_usd});
  out.requests_today = rule.bump_day(r.provider, r.now_ms);
  out.waited = waiting.waited;
  if (r.idempotency) {
    IdempotencyRecord marker;
    marker.state = IdempotencyState::kPending;
    marker.fingerprint = r.idempotency->fingerprint;
    marker.received_ms = r.idempotency->received_ms;
    marker.expiry_ms = r.idempotency->expiry_ms;
    marker.reservation_id = out.reservation_id;
    rule.put_idempotency(IdempotencyKey{r.idempotency->agent, r.idempotency->key},
                         std::move(marker));
  }
  return out;
}

// The provider's request-rate limits (BudgetPolicy::rate_limits) for an
// attempt at now_ms: refused when its last minute or its day is full;
// otherwise the attempt takes a slot in the stored minute window (the day
// counter is bumped by take_room). Only a window with a minute limit is
// stored: the day counter alone holds a per-day limit.
std::optional<policy::RateDecision> take_rate_slot(Rule& rule, const ReserveRequest& r) {
  if (!rule.policy().rate_limits) return std::nullopt;
  const policy::RateLimits limits = rule.policy().rate_limits(r.provider);
  if (limits.per_minute == 0 && limits.per_day == 0) return std::nullopt;
  policy::RateWindow window(limits, limits.per_minute == 0 ? std::vector<int64_t>{}
                                                           : rule.minute_sends(r.provider));
  const policy::RateDecision d =
      window.try_acquire(r.now_ms, rule.day_count(DayKey{r.provider, utc_day(r.now_ms)}));
  if (d.allowed && limits.per_minute != 0) {
    rule.put_minute_sends(r.provider, window.sent_in_window(r.now_ms));
  }
  return d;
}

Error unknown_reservation(uint64_t id) {
  return Error::internal("ledger: unknown reservation " + std::to_string(id) +
                         " (already committed or released)");
}

// A commit charged more than its reservation: the over_reservation alert,
// once per (agent, provider, period); `used` and `limit` are the agent's.
void fire_over_reservation(Rule& rule, const ReservationRow& res, uint64_t charged, uint64_t used,
                           uint64_t limit, int64_t now_ms, std::vector<Alert>& out) {
  std::string message = "request " + res.request_id + " was charged " + std::to_string(charged) +
                        " tokens, " + std::to_string(charged - res.amount) +
                        " more than its reservation of " + std::to_string(res.amount) + " (" +
                        who(res.agent, res.provider) + " in " + res.period +
                        "): the reservation is meant to bound what a call can use, so budgets "
                        "may be overrun; later ones this period are only logged";
  rule.fire(BudgetKey{res.period, res.agent, res.provider}, AlertLevel::kOverReservation, used,
            limit, now_ms, std::move(message), out);
}

IdempotencyRecord stored_record(const StoredReply& stored) {
  IdempotencyRecord record;
  record.state = stored.reply ? IdempotencyState::kDone : IdempotencyState::kReplyTooLarge;
  record.fingerprint = stored.call.fingerprint;
  record.received_ms = stored.call.received_ms;
  record.expiry_ms = stored.call.expiry_ms;
  if (stored.reply) record.reply = *stored.reply;
  record.reply_bytes = stored.reply_bytes;
  return record;
}

}  // namespace

Ruling<std::optional<ReserveOutcome>> reserve(const LedgerRows& rows, const BudgetPolicy& policy,
                                              BatchState& state, const ReserveRequest& r,
                                              Waiting& waiting) {
  Rule rule(rows, policy, state);
  ReserveOutcome out;
  out.rollover = rule.advance_period(r.now_ms);
  out.period = rule.period_name();
  const BudgetKey akey{out.period, r.agent, r.provider};
  const BudgetKey gkey{out.period, kGlobalScope, r.provider};
  const UsageRow a = rule.usage(akey);
  const UsageRow g = rule.usage(gkey);
  const uint64_t alimit = rule.agent_limit(r.agent, r.provider);
  const std::optional<uint64_t> glimit = rule.global_limit(r.provider);
  const std::optional<double> ausd = rule.agent_limit_usd(r.agent, r.provider);
  const std::optional<double> gusd = rule.global_limit_usd(r.provider);
  const bool gbudget = glimit || gusd;
  std::optional<Fit> afit_usd, gfit_usd;
  if (ausd) afit_usd = fit_usd({a.cost_usd, a.reserved_usd, *ausd, r.soft_threshold}, r.full_cost_usd);
  if (gusd) gfit_usd = fit_usd({g.cost_usd, g.reserved_usd, *gusd, std::nullopt}, r.full_cost_usd);
  const ScopeFit af =
      scope_fit(fit({a.used, a.reserved, alimit, r.soft_threshold}, r.amount), afit_usd);
  const ScopeFit gf = scope_fit(
      glimit ? fit({g.used, g.reserved, *glimit, std::nullopt}, r.amount) : Fit::kFits, gfit_usd);
  const Fit afit = af.fit;
  const Fit gfit = gf.fit;
  auto refuse = [&](ReserveStatus status, RefusedBy by, bool global) {
    const bool usd = global ? gf.usd : af.usd;
    const UsageRow& row = global ? g : a;
    ReserveOutcome o =
        usd ? refused_usd(std::move(out), r, waiting, status, by, row, global ? *gusd : *ausd)
            : refused(std::move(out), r, waiting, status, by, row, global ? *glimit : alimit);
    return Ruling<std::optional<ReserveOutcome>>{std::move(o), rule.take()};
  };
  // A call that can never fit is refused at once, waiters ahead or not.
  if (afit == Fit::kNever || afit == Fit::kThreshold) {
    return refuse(ReserveStatus::kAgentDoesNotFit,
                  afit == Fit::kNever ? RefusedBy::kLimit : RefusedBy::kThreshold, false);
  }
  if (gfit == Fit::kNever) {
    return refuse(ReserveStatus::kGlobalDoesNotFit, RefusedBy::kLimit, true);
  }
  const bool agent_behind = state.blocked.count(akey) > 0;
  const bool global_behind = gbudget && state.blocked.count(gkey) > 0;
  if (afit == Fit::kWaits || gfit == Fit::kWaits || agent_behind || global_behind) {
    if (!state.clock.cancelled && state.clock.now < r.wait_until) {
      waiting.waited = true;
      if (out.rollover) waiting.rollover_seen = std::move(out.rollover);
      state.blocked.insert(akey);
      if (gbudget) state.blocked.insert(gkey);
      return {std::nullopt, rule.take()};
    }
    if (afit == Fit::kWaits || (agent_behind && gfit != Fit::kWaits)) {
      return refuse(ReserveStatus::kAgentDoesNotFit, RefusedBy::kInFlight, false);
    }
    return refuse(ReserveStatus::kGlobalDoesNotFit, RefusedBy::kInFlight, true);
  }
  if (const auto rate = take_rate_slot(rule, r); rate && !rate->allowed) {
    out.status = ReserveStatus::kRateLimited;
    out.retry_after_ms = rate->retry_after_ms;
    out.waited = waiting.waited;
    if (!out.rollover) out.rollover = std::move(waiting.rollover_seen);
    return {std::move(out), rule.take()};
  }
  ReserveOutcome held = take_room(rule, r, std::move(out), a, g, waiting);
  return {std::move(held), rule.take()};
}

Ruling<Result<CommitOutcome>> commit(const LedgerRows& rows, const BudgetPolicy& policy,
                                     BatchState& state, const CommitRequest& c,
                                     const std::optional<StoredReply>& stored) {
  Rule rule(rows, policy, state);
  const std::optional<ReservationRow> res = rule.reservation(c.reservation_id);
  if (!res) return {unknown_reservation(c.reservation_id), {}};
  CommitOutcome out;
  out.rollover = rule.advance_period(c.now_ms);
  out.agent = res->agent;
  out.provider = res->provider;
  out.period = res->period;
  out.reserved = res->amount;
  out.charged = c.input_tokens + c.output_tokens;
  if (out.charged > res->amount) {
    spdlog::warn("ledger: request {} charged {} tokens, {} more than its reservation of {} ({} {})",
                 res->request_id, out.charged, out.charged - res->amount, res->amount, res->agent,
                 res->provider);
  }
  const BudgetKey akey{res->period, res->agent, res->provider};
  const BudgetKey gkey{res->period, kGlobalScope, res->provider};
  const uint64_t alimit = rule.agent_limit(res->agent, res->provider);
  uint64_t agent_used = 0;
  for (const BudgetKey* key : {&akey, &gkey}) {
    UsageRow row = rule.usage(*key);
    row.reserved = minus(row.reserved, res->amount);
    row.reserved_usd = std::max(0.0, row.reserved_usd - res->full_cost_usd.value_or(0.0));
    row.used += out.charged;
    row.requests += 1;
    row.cost_usd += c.cost_usd;
    rule.put_usage(*key, row);
    rule.add_day_usage(key->scope, key->provider, c.now_ms, out.charged, 1, c.cost_usd);
    if (key == &akey) {
      agent_used = row.used;
      rule.check_levels(akey, row.used, alimit, c.now_ms, out.alerts);
    } else if (auto glimit = rule.global_limit(res->provider)) {
      rule.check_levels(gkey, row.used, *glimit, c.now_ms, out.alerts);
    }
  }
  if (out.charged > res->amount) {
    fire_over_reservation(rule, *res, out.charged, agent_used, alimit, c.now_ms, out.alerts);
  }
  rule.delete_reservation(c.reservation_id);
  if (stored) {
    rule.put_idempotency(IdempotencyKey{stored->call.agent, stored->call.key},
                         stored_record(*stored));
  }
  return {std::move(out), rule.take()};
}

Ruling<Result<ReleaseOutcome>> release(const LedgerRows& rows, uint64_t reservation_id) {
  const std::optional<ReservationRow> res = rows.reservation(reservation_id);
  if (!res) return {unknown_reservation(reservation_id), {}};
  RowChanges changes;
  for (const std::string& scope : {res->agent, std::string(kGlobalScope)}) {
    const BudgetKey key{res->period, scope, res->provider};
    UsageRow row = rows.usage(key);
    row.reserved = minus(row.reserved, res->amount);
    row.reserved_usd = std::max(0.0, row.reserved_usd - res->full_cost_usd.value_or(0.0));
    changes.usage[key] = row;
  }
  changes.reservations[reservation_id] = std::nullopt;
  ReleaseOutcome out;
  out.released = res->amount;
  return {std::move(out), std::move(changes)};
}

Ruling<uint64_t> count_request(const LedgerRows& rows, const std::string& provider,
                               int64_t now_ms) {
  const DayKey key{provider, utc_day(now_ms)};
  const uint64_t count = rows.day_count(key) + 1;
  RowChanges changes;
  changes.days[key] = count;
  return {count, std::move(changes)};
}

RowChanges idempotency_put(const std::string& agent, const std::string& key,
                           const std::string& reply, int64_t expiry_ms) {
  IdempotencyRecord record;
  record.state = IdempotencyState::kDone;
  record.expiry_ms = expiry_ms;
  record.reply = reply;
  record.reply_bytes = reply.size();
  RowChanges changes;
  changes.idempotency[IdempotencyKey{agent, key}] = std::move(record);
  return changes;
}

Ruling<bool> idempotency_forget(const LedgerRows& rows, const std::string& agent,
                                const std::string& key) {
  const IdempotencyKey id{agent, key};
  const std::optional<IdempotencyRecord> record = rows.idempotency(id);
  // A reservation still open may have been served (a commit that failed):
  // recovery charges it in full, and the marker keeps repeats away.
  const bool settled = record && !rows.has_reservation(record->reservation_id);
  const bool forget = record && record->state == IdempotencyState::kPending && settled;
  RowChanges changes;
  if (forget) changes.idempotency[id] = std::nullopt;
  return {forget, std::move(changes)};
}

Ruling<PruneOutcome> prune(const LedgerRows& rows, int64_t now_ms, size_t max_rows) {
  // One bounded step: at most max_rows rows from the saved cursor on (and
  // the row after them, where the next step resumes).
  const size_t step = std::max<size_t>(1, max_rows);
  auto found = rows.idempotency_rows(rows.meta().prune_cursor, step + 1);
  PruneOutcome out;
  RowChanges changes;
  std::optional<IdempotencyKey> resume;
  if (found.size() > step) resume = found[step].first;
  found.resize(std::min(found.size(), step));
  for (auto& [key, record] : found) {
    ++out.scanned;
    if (record && record->expiry_ms > now_ms) continue;
    changes.idempotency[std::move(key)] = std::nullopt;
    ++out.deleted;
  }
  out.swept = !resume.has_value();
  changes.prune_cursor = std::move(resume);
  return {out, std::move(changes)};
}

}  // namespace tollgate::ledger::accounting
