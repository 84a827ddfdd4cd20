#include "daemon/ledger/lmdb/ledger_apply.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

namespace tollgate::ledger::detail {
namespace {

constexpr std::string_view kMetaPeriod = "period";
constexpr std::string_view kMetaNextReservation = "next_reservation";
constexpr std::string_view kMetaLogSeq = "log_seq";
constexpr std::string_view kMetaProbe = "probe";
constexpr std::string_view kMetaPruneCursor = "prune_cursor";

uint64_t minus(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }

std::string who(const std::string& scope, const std::string& provider) {
  if (scope == kGlobalScope) return "the global " + provider + " budget";
  return scope + "'s " + provider + " budget";
}

std::string level_message(const std::string& scope, const std::string& provider, AlertLevel level,
                          uint64_t used, uint64_t limit, const std::string& period) {
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.1f%%", percentage(used, limit));
  std::string m = who(scope, provider) + " reached " + std::string(alert_level_name(level)) +
                  ": " + pct + " used (" + std::to_string(used) + " of " +
                  std::to_string(limit) + " tokens in " + period + ")";
  return m;
}

}  // namespace

BatchApplier::BatchApplier(MDB_txn* txn, const Tables& tables, const BudgetPolicy& policy,
                           AdmissionClock clock)
    : txn_(txn), t_(tables), policy_(policy), clock_(clock) {
  if (auto p = meta_string(txn_, t_, kMetaPeriod)) period_ = parse_period(*p);
  next_reservation_ = meta_u64(txn_, t_, kMetaNextReservation).value_or(1);
  log_seq_ = meta_u64(txn_, t_, kMetaLogSeq).value_or(0);
}

void BatchApplier::finish() {
  if (period_dirty_ && period_) kv_put(txn_, t_.meta, kMetaPeriod, period_name(*period_));
  if (counters_dirty_) {
    kv_put(txn_, t_.meta, kMetaNextReservation, encode_u64(next_reservation_));
    kv_put(txn_, t_.meta, kMetaLogSeq, encode_u64(log_seq_));
  }
}

std::optional<Rollover> BatchApplier::advance_period(int64_t now_ms) {
  const Period now = period_of(now_ms);
  if (!period_) {
    period_ = now;
    period_dirty_ = true;
    return std::nullopt;
  }
  if (now <= *period_) return std::nullopt;
  Rollover r{period_name(*period_), period_name(now)};
  spdlog::info("ledger: period {} starts (was {})", r.to, r.from);
  period_ = now;
  period_dirty_ = true;
  log_change(r, now_ms);
  return r;
}

uint64_t BatchApplier::agent_limit(const std::string& agent, const std::string& provider) const {
  return policy_.agent_limit ? policy_.agent_limit(agent, provider) : 0;
}

std::optional<uint64_t> BatchApplier::global_limit(const std::string& provider) const {
  return policy_.global_limit ? policy_.global_limit(provider) : std::nullopt;
}

uint64_t BatchApplier::bump_day(const std::string& provider, int64_t now_ms) {
  const std::string key = day_key(provider, utc_day(now_ms));
  uint64_t count = 0;
  if (auto v = kv_get(txn_, t_.rate_day, key)) count = decode_u64(*v).value_or(0);
  ++count;
  kv_put(txn_, t_.rate_day, key, encode_u64(count));
  return count;
}

void BatchApplier::fire(const std::string& period, const std::string& scope,
                        const std::string& provider, AlertLevel level, uint64_t used,
                        uint64_t limit, int64_t now_ms, std::string message,
                        std::vector<Alert>& out) {
  const std::string key = fired_key(period, scope, provider, level);
  if (kv_get(txn_, t_.alerts_fired, key)) return;  // edge-triggered: once per period
  kv_put(txn_, t_.alerts_fired, key, encode_u64(static_cast<uint64_t>(now_ms)));
  Alert a;
  a.level = level;
  a.ai_name = scope;
  a.provider = provider;
  a.threshold = threshold_of(level, policy_.thresholds);
  a.percentage = percentage(used, limit);
  a.used = used;
  a.limit = limit;
  a.period = period;
  a.at_ms = now_ms;
  a.message = std::move(message);
  a.log_seq = ++log_seq_;
  counters_dirty_ = true;
  kv_put(txn_, t_.alerts_log, time_seq_key(now_ms, a.log_seq), encode_alert(a));
  spdlog::warn("ledger alert: {}", a.message);
  out.push_back(std::move(a));
}

void BatchApplier::check_levels(const std::string& period, const std::string& scope,
                                const std::string& provider, uint64_t used, uint64_t limit,
                                int64_t now_ms, std::vector<Alert>& out) {
  if (limit == 0) return;  // no budget at all: nothing to warn about
  for (AlertLevel level : reached_levels(used, limit, policy_.thresholds)) {
    fire(period, scope, provider, level, used, limit, now_ms,
         level_message(scope, provider, level, used, limit, period), out);
  }
}

void BatchApplier::refuse(ReserveOp& op, ReserveOutcome out, ReserveStatus status, RefusedBy by,
                          const UsageRow& row, uint64_t limit) {
  out.status = status;
  out.refused_by = by;
  out.needed = op.req.amount;
  out.left = minus(limit, row.used);
  out.in_flight = row.reserved;
  out.limit = limit;
  out.waited = op.waited;
  if (!out.rollover) out.rollover = std::move(op.rollover_seen);
  op.result = std::move(out);
}

void BatchApplier::apply(ReserveOp& op) {
  const ReserveRequest& r = op.req;
  op.parked = false;
  ReserveOutcome out;
  out.rollover = advance_period(r.now_ms);
  out.period = period_name(*period_);
  const std::string akey = usage_key(out.period, r.agent, r.provider);
  const std::string gkey = usage_key(out.period, kGlobalScope, r.provider);
  UsageRow a = load_usage(txn_, t_, akey);
  UsageRow g = load_usage(txn_, t_, gkey);
  const uint64_t alimit = agent_limit(r.agent, r.provider);
  const std::optional<uint64_t> glimit = global_limit(r.provider);
  const Fit afit = fit({a.used, a.reserved, alimit, r.soft_threshold}, r.amount);
  const Fit gfit = glimit ? fit({g.used, g.reserved, *glimit, std::nullopt}, r.amount) : Fit::kFits;
  // A call that can never fit is refused at once, waiters ahead or not.
  if (afit == Fit::kNever || afit == Fit::kThreshold) {
    refuse(op, std::move(out), ReserveStatus::kAgentDoesNotFit,
           afit == Fit::kNever ? RefusedBy::kLimit : RefusedBy::kThreshold, a, alimit);
    return;
  }
  if (gfit == Fit::kNever) {
    refuse(op, std::move(out), ReserveStatus::kGlobalDoesNotFit, RefusedBy::kLimit, g, *glimit);
    return;
  }
  const bool agent_behind = blocked_.count(akey) > 0;
  const bool global_behind = glimit && blocked_.count(gkey) > 0;
  if (afit == Fit::kWaits || gfit == Fit::kWaits || agent_behind || global_behind) {
    if (!clock_.cancelled && clock_.now < r.wait_until) {
      op.parked = true;
      op.waited = true;
      if (out.rollover) op.rollover_seen = std::move(out.rollover);
      blocked_.insert(akey);
      if (glimit) blocked_.insert(gkey);
      return;
    }
    if (afit == Fit::kWaits || (agent_behind && gfit != Fit::kWaits)) {
      refuse(op, std::move(out), ReserveStatus::kAgentDoesNotFit, RefusedBy::kInFlight, a, alimit);
    } else {
      refuse(op, std::move(out), ReserveStatus::kGlobalDoesNotFit, RefusedBy::kInFlight, g,
             *glimit);
    }
    return;
  }
  if (!out.rollover) out.rollover = std::move(op.rollover_seen);
  a.reserved += r.amount;
  g.reserved += r.amount;
  store_usage(txn_, t_, akey, a);
  store_usage(txn_, t_, gkey, g);
  out.reservation_id = next_reservation_++;
  counters_dirty_ = true;
  kv_put(txn_, t_.reservations, u64_key(out.reservation_id),
         encode_reservation({r.agent, r.provider, out.period, r.request_id, r.amount, r.now_ms,
                             r.full_cost_usd}));
  out.requests_today = bump_day(r.provider, r.now_ms);
  out.waited = op.waited;
  if (r.idempotency) {
    IdempotencyRecord marker;
    marker.state = IdempotencyState::kPending;
    marker.fingerprint = r.idempotency->fingerprint;
    marker.received_ms = r.idempotency->received_ms;
    marker.expiry_ms = r.idempotency->expiry_ms;
    marker.reservation_id = out.reservation_id;
    kv_put(txn_, t_.idempotency, idempotency_key(r.idempotency->agent, r.idempotency->key),
           encode_idempotency(marker));
  }
  op.result = std::move(out);
}

void BatchApplier::apply(CommitOp& op) {
  const CommitRequest& c = op.req;
  const std::string rkey = u64_key(c.reservation_id);
  const auto bytes = kv_get(txn_, t_.reservations, rkey);
  std::optional<ReservationRecord> res;
  if (bytes) res = decode_reservation(*bytes);
  if (!res) {
    op.result = Error::internal("ledger: unknown reservation " + std::to_string(c.reservation_id) +
                                " (already committed or released)");
    return;
  }
  CommitOutcome out;
  out.rollover = advance_period(c.now_ms);
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
  const std::string akey = usage_key(res->period, res->agent, res->provider);
  const std::string gkey = usage_key(res->period, kGlobalScope, res->provider);
  const uint64_t alimit = agent_limit(res->agent, res->provider);
  uint64_t agent_used = 0;
  for (const std::string* key : {&akey, &gkey}) {
    UsageRow row = load_usage(txn_, t_, *key);
    row.reserved = minus(row.reserved, res->amount);
    row.used += out.charged;
    row.requests += 1;
    row.cost_usd += c.cost_usd;
    store_usage(txn_, t_, *key, row);
    if (key == &akey) {
      agent_used = row.used;
      check_levels(res->period, res->agent, res->provider, row.used, alimit, c.now_ms, out.alerts);
    } else if (auto glimit = global_limit(res->provider)) {
      check_levels(res->period, kGlobalScope, res->provider, row.used, *glimit, c.now_ms,
                   out.alerts);
    }
  }
  if (out.charged > res->amount) {
    fire_over_reservation(*res, out.charged, agent_used, alimit, c.now_ms, out.alerts);
  }
  kv_del(txn_, t_.reservations, rkey);
  if (op.stored) {
    const IdempotentCall& call = op.stored->call;
    IdempotencyRecord record;
    record.state = op.stored->reply ? IdempotencyState::kDone : IdempotencyState::kReplyTooLarge;
    record.fingerprint = call.fingerprint;
    record.received_ms = call.received_ms;
    record.expiry_ms = call.expiry_ms;
    if (op.stored->reply) record.reply = *op.stored->reply;
    record.reply_bytes = op.stored->reply_bytes;
    kv_put(txn_, t_.idempotency, idempotency_key(call.agent, call.key), encode_idempotency(record));
  }
  op.result = std::move(out);
}

void BatchApplier::fire_over_reservation(const ReservationRecord& res, uint64_t charged,
                                         uint64_t used, uint64_t limit, int64_t now_ms,
                                         std::vector<Alert>& out) {
  std::string message = "request " + res.request_id + " was charged " + std::to_string(charged) +
                        " tokens, " + std::to_string(charged - res.amount) +
                        " more than its reservation of " + std::to_string(res.amount) + " (" +
                        who(res.agent, res.provider) + " in " + res.period +
                        "): the reservation is meant to bound what a call can use, so budgets "
                        "may be overrun; later ones this period are only logged";
  fire(res.period, res.agent, res.provider, AlertLevel::kOverReservation, used, limit, now_ms,
       std::move(message), out);
}

void BatchApplier::apply(ReleaseOp& op) {
  const std::string rkey = u64_key(op.reservation_id);
  const auto bytes = kv_get(txn_, t_.reservations, rkey);
  std::optional<ReservationRecord> res;
  if (bytes) res = decode_reservation(*bytes);
  if (!res) {
    op.result = Error::internal("ledger: unknown reservation " + std::to_string(op.reservation_id) +
                                " (already committed or released)");
    return;
  }
  for (const std::string& scope : {res->agent, std::string(kGlobalScope)}) {
    const std::string key = usage_key(res->period, scope, res->provider);
    UsageRow row = load_usage(txn_, t_, key);
    row.reserved = minus(row.reserved, res->amount);
    store_usage(txn_, t_, key, row);
  }
  kv_del(txn_, t_.reservations, rkey);
  ReleaseOutcome out;
  out.released = res->amount;
  op.result = std::move(out);
}

void BatchApplier::rearm(const std::string& period, const std::string& scope,
                         const std::string& provider, uint64_t used,
                         std::optional<uint64_t> limit) {
  for (AlertLevel level : kAllAlertLevels) {
    // Levels still reached stay fired; without a limit nothing can be reached.
    if (limit && level_reached(level, used, *limit, policy_.thresholds)) continue;
    kv_del(txn_, t_.alerts_fired, fired_key(period, scope, provider, level));
  }
}

void BatchApplier::rearm_global(const std::string& period, const std::string& provider,
                                uint64_t used) {
  rearm(period, kGlobalScope, provider, used, global_limit(provider));
}

void BatchApplier::apply(ResetOp& op) {
  ResetOutcome out;
  out.agent = op.agent;
  out.rollover = advance_period(op.now_ms);
  out.period = period_name(*period_);
  std::vector<std::string> providers;
  if (op.provider) {
    providers.push_back(*op.provider);
  } else {
    providers = policy_.providers;
    const std::string prefix = usage_prefix(out.period, op.agent);
    Cursor cur(txn_, t_.usage);
    for (bool ok = cur.seek(prefix); ok && cur.key().starts_with(prefix); ok = cur.next()) {
      std::string p(cur.key().substr(prefix.size()));
      if (std::find(providers.begin(), providers.end(), p) == providers.end()) providers.push_back(p);
    }
  }
  for (const std::string& provider : providers) {
    const std::string akey = usage_key(out.period, op.agent, provider);
    UsageRow a = load_usage(txn_, t_, akey);
    const uint64_t cleared = a.used;
    out.cleared[provider] = cleared;
    a.cleared += cleared;
    a.used = 0;
    store_usage(txn_, t_, akey, a);
    for (AlertLevel level : kAllAlertLevels) {
      kv_del(txn_, t_.alerts_fired, fired_key(out.period, op.agent, provider, level));
    }
    const std::string gkey = usage_key(out.period, kGlobalScope, provider);
    UsageRow g = load_usage(txn_, t_, gkey);
    g.used = minus(g.used, cleared);
    store_usage(txn_, t_, gkey, g);
    rearm_global(out.period, provider, g.used);
    ++log_seq_;
    counters_dirty_ = true;
    kv_put(txn_, t_.resets, time_seq_key(op.now_ms, log_seq_),
           encode_reset({op.now_ms, op.agent, provider, out.period, cleared}));
    spdlog::info("ledger: reset {} {} in {}: {} tokens cleared", op.agent, provider, out.period,
                 cleared);
  }
  log_change(ResetChange{out.agent, out.period, out.cleared}, op.now_ms);
  op.result = std::move(out);
}

void BatchApplier::apply(CountRequestOp& op) { op.result = bump_day(op.provider, op.now_ms); }

void BatchApplier::apply(IdempotencyPutOp& op) {
  IdempotencyRecord record;
  record.state = IdempotencyState::kDone;
  record.expiry_ms = op.expiry_ms;
  record.reply = op.reply;
  record.reply_bytes = op.reply.size();
  kv_put(txn_, t_.idempotency, idempotency_key(op.agent, op.key), encode_idempotency(record));
  op.result = true;
}

void BatchApplier::apply(IdempotencyForgetOp& op) {
  const std::string key = idempotency_key(op.agent, op.key);
  const auto bytes = kv_get(txn_, t_.idempotency, key);
  std::optional<IdempotencyRecord> record;
  if (bytes) record = decode_idempotency(*bytes);
  // A reservation still open may have been served (a commit that failed):
  // recovery charges it in full, and the marker keeps repeats away.
  const bool settled =
      record && !kv_get(txn_, t_.reservations, u64_key(record->reservation_id)).has_value();
  const bool forget = record && record->state == IdempotencyState::kPending && settled;
  if (forget) kv_del(txn_, t_.idempotency, key);
  op.result = forget;
}

void BatchApplier::apply(PruneOp& op) {
  // One bounded step: at most max_rows rows from the saved cursor on, so the
  // writer (and every call waiting for it) is never held by a scan of the
  // whole table.
  PruneOutcome out;
  std::vector<std::string> expired;
  std::optional<std::string> resume;
  {
    Cursor cur(txn_, t_.idempotency);
    const auto from = meta_string(txn_, t_, kMetaPruneCursor);
    bool ok = from ? cur.seek(*from) : cur.first();
    for (; ok && out.scanned < std::max<size_t>(1, op.max_rows); ok = cur.next()) {
      ++out.scanned;
      const auto rec = decode_idempotency(cur.value());
      if (!rec || rec->expiry_ms <= op.now_ms) expired.emplace_back(cur.key());
    }
    if (ok) resume = std::string(cur.key());
  }
  for (const auto& key : expired) kv_del(txn_, t_.idempotency, key);
  if (resume) {
    kv_put(txn_, t_.meta, kMetaPruneCursor, *resume);
  } else {
    kv_del(txn_, t_.meta, kMetaPruneCursor);
  }
  out.deleted = expired.size();
  out.swept = !resume.has_value();
  op.result = out;
}

void BatchApplier::apply(ProbeOp& op) {
  const uint64_t n = meta_u64(txn_, t_, kMetaProbe).value_or(0) + 1;
  kv_put(txn_, t_.meta, kMetaProbe, encode_u64(n));
  op.result = true;
}

void BatchApplier::apply(RecoverOp& op) {
  OpenReport report;
  report.rollover = advance_period(op.now_ms);
  using Key = std::tuple<std::string, std::string, std::string>;  // period, agent, provider
  std::map<Key, RecoveredCharge> charges;
  std::map<Key, double> costs;
  std::vector<std::string> keys;
  {
    Cursor cur(txn_, t_.reservations);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      keys.emplace_back(cur.key());
      const auto res = decode_reservation(cur.value());
      if (!res) continue;  // logged by the decoder; nothing to charge it to
      RecoveredCharge& c = charges[Key{res->period, res->agent, res->provider}];
      c.agent = res->agent;
      c.provider = res->provider;
      c.period = res->period;
      c.tokens += res->amount;
      c.reservations += 1;
      if (res->full_cost_usd) {
        costs[Key{res->period, res->agent, res->provider}] += *res->full_cost_usd;
      } else {
        spdlog::warn("ledger: reservation of request {} ({} {}) was written by an older "
                     "tollgated without its cost; its {} tokens are recovered at cost 0",
                     res->request_id, res->agent, res->provider, res->amount);
      }
    }
  }
  for (const auto& key : keys) kv_del(txn_, t_.reservations, key);
  for (auto& [key, c] : charges) {
    for (const std::string& scope : {c.agent, std::string(kGlobalScope)}) {
      const std::string ukey = usage_key(c.period, scope, c.provider);
      UsageRow row = load_usage(txn_, t_, ukey);
      row.reserved = minus(row.reserved, c.tokens);
      row.used += c.tokens;  // the provider may have served it: never undercount
      row.cost_usd += costs[key];
      store_usage(txn_, t_, ukey, row);
      if (scope != kGlobalScope) {
        check_levels(c.period, scope, c.provider, row.used, agent_limit(c.agent, c.provider),
                     op.now_ms, report.alerts);
      } else if (auto glimit = global_limit(c.provider)) {
        check_levels(c.period, scope, c.provider, row.used, *glimit, op.now_ms, report.alerts);
      }
    }
    spdlog::warn("ledger: recovered {} tokens of {} reservations left by a crash ({} {} {})",
                 c.tokens, c.reservations, c.agent, c.provider, c.period);
    report.recovered_tokens += c.tokens;
    report.charges.push_back(std::move(c));
  }
  sweep_reserved();
  if (!report.charges.empty()) {
    log_change(RecoveryChange{report.charges, report.recovered_tokens}, op.now_ms);
  }
  report.at_ms = op.now_ms;
  op.result = std::move(report);
}

void BatchApplier::apply(LevelsOp& op) {
  std::vector<Alert> alerts;
  advance_period(op.now_ms);
  const std::string period = period_name(*period_);
  std::vector<std::pair<std::string, UsageRow>> rows;
  {
    const std::string prefix = usage_prefix(period);
    Cursor cur(txn_, t_.usage);
    for (bool ok = cur.seek(prefix); ok && cur.key().starts_with(prefix); ok = cur.next()) {
      rows.emplace_back(std::string(cur.key()), decode_usage(cur.value()));
    }
  }
  for (const auto& [key, row] : rows) {
    const auto k = parse_usage_key(key);
    if (!k) continue;
    const std::string scope(k->scope);
    const std::string provider(k->provider);
    const std::optional<uint64_t> limit = scope == kGlobalScope
                                              ? global_limit(provider)
                                              : std::optional<uint64_t>(agent_limit(scope, provider));
    rearm(period, scope, provider, row.used, limit);
    if (limit) check_levels(period, scope, provider, row.used, *limit, op.now_ms, alerts);
  }
  op.result = std::move(alerts);
}

void BatchApplier::log_change(LedgerChange change, int64_t at_ms) {
  LedgerRecord record{std::move(change), at_ms, ++log_seq_};
  counters_dirty_ = true;
  kv_put(txn_, t_.ledger_log, time_seq_key(at_ms, record.log_seq), encode_ledger_record(record));
}

void BatchApplier::sweep_reserved() {
  // With no reservation left, every row's reserved must be 0. Anything else
  // is a bug; zero it loudly rather than block those budgets forever.
  std::vector<std::pair<std::string, UsageRow>> fix;
  {
    Cursor cur(txn_, t_.usage);
    for (bool ok = cur.first(); ok; ok = cur.next()) {
      const UsageRow row = decode_usage(cur.value());
      if (row.reserved != 0) fix.emplace_back(std::string(cur.key()), row);
    }
  }
  for (auto& [key, row] : fix) {
    spdlog::error("ledger: usage row had {} tokens reserved without a reservation; zeroed",
                  row.reserved);
    row.reserved = 0;
    store_usage(txn_, t_, key, row);
  }
}

}  // namespace tollgate::ledger::detail
