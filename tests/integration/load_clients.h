// Load for the crash and power-cut tests: client threads, each making one
// call after another on its own DEALER until told to stop, and the tally
// of what their replies said (written by the threads, read by the test).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

namespace tollgate::testing {

struct ReplyTally {
  std::mutex mu;
  std::condition_variable cv;
  // total_tokens of the ok replies, by (agent, provider).
  std::map<std::pair<std::string, std::string>, uint64_t> tokens;
  uint64_t replies = 0;  // of any kind
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;  // error replies by code

  void add(const std::string& agent, const nlohmann::json& reply);
  // total_tokens of the ok replies by provider, every agent together.
  std::map<std::string, uint64_t> tokens_by_provider();
  // Wait until `n` replies (ok ones) arrived in all; false on timeout.
  bool wait_for_replies(uint64_t n, std::chrono::milliseconds timeout);
  bool wait_for_ok(uint64_t n, std::chrono::milliseconds timeout);
  bool wait_for_error(const std::string& code, uint64_t n, std::chrono::milliseconds timeout);
};

// One client thread: calls as `agent` (prompt "<label> call <n>",
// max_tokens 30) one after another on its own DEALER until `stop`, and
// tallies each reply. No Catch2 assertions here: they are not thread-safe.
void call_until_stopped(zmq::context_t& ctx, const std::string& endpoint, const std::string& agent,
                        const std::string& label, const std::atomic<bool>& stop, ReplyTally& tally);

}  // namespace tollgate::testing
