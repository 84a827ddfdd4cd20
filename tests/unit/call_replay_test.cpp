// Idempotent repeats: a repeat gets the first call's answer as a value
// (marked replayed), whether it waited for the call or is answered from the
// reply stored with its charge, which is decoded once.
#include <catch2/catch.hpp>

#include <string>

#include "workers/calls/call_pool.h"

using namespace tollgate;
using namespace tollgate::workers;

namespace {

protocol::CallReply first_reply() {
  protocol::CallReply r;
  r.text = "the answer";
  r.provider = "openai";
  r.model = "gpt-4.1";
  r.reason = "fallback_error";
  r.usage = {10, 5, 15};
  r.cost_usd = 0.01;
  r.attempts = {{"anthropic", "error", "provider_error", 30.0}, {"openai", "ok", std::nullopt, 90.0}};
  r.latency_ms = 125.0;
  return r;
}

ledger::IdempotentCall held_key() { return {"imperium", "k-1", "fingerprint", 0, 0}; }

}  // namespace

TEST_CASE("a repeat that waited gets the first reply marked replayed and errors as they were") {
  const CallResult again = replayed(first_reply());
  REQUIRE(again.ok());
  CHECK(again->replayed);
  protocol::CallReply expected = first_reply();
  expected.replayed = true;
  CHECK(*again == expected);
  const CallResult failed = replayed(protocol::Error::provider_error("refused"));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == protocol::ErrorCode::kProviderError);
  CHECK(failed.error().message == "refused");
}

TEST_CASE("a repeat answered from the stored reply gets the first reply marked replayed") {
  const ledger::StoredReply stored = stored_reply(held_key(), first_reply());
  REQUIRE(stored.reply.has_value());
  CHECK(stored.reply_bytes == stored.reply->size());
  const CallResult again = replay_of_stored(*stored.reply);
  REQUIRE(again.ok());
  protocol::CallReply expected = first_reply();
  expected.replayed = true;
  CHECK(*again == expected);
}

TEST_CASE("a stored reply that does not read answers the repeat with internal") {
  const CallResult again = replay_of_stored("\xc1 not msgpack");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == protocol::ErrorCode::kInternal);
}

TEST_CASE("a reply over the size kept for repeats is stored as its size only") {
  protocol::CallReply big = first_reply();
  big.text.assign(kMaxStoredReplyBytes, 'x');
  const ledger::StoredReply stored = stored_reply(held_key(), big);
  CHECK_FALSE(stored.reply.has_value());
  CHECK(stored.reply_bytes > kMaxStoredReplyBytes);
}
