// FakeProvider: the request handlers of the fake Anthropic/OpenAI server.
// Validates requests like the real services, answers deterministically,
// applies the fault script, and counts every request and token it serves.
//
// Routes (install()): POST /v1/messages (Anthropic); POST
// /v1/chat/completions and /chat/completions (OpenAI); control endpoints
// under /_control (faults, stats, reset, health).
//
// Reply text: "echo: " + the last user message (first 200 bytes). Usage:
// input = ceil(bytes of all prompt text / 4), at least 1 (tokenizer
// "bytes4"), or one token per UTF-8 code point plus 3 per message and 3 per
// request (tokenizer "chars": as dense as real tokenizers are on CJK text,
// digits and code); output = min(max_tokens, the fault's output_tokens or
// the configured count). POST /v1/messages/count_tokens answers
// {input_tokens} with the same count (stats: count_requests).
// Stats count, per API: every request received (`requests`), every answer
// that was not a complete success (`errors`: validation errors, fault
// statuses, truncate, drop, invalid_json), and the tokens of every complete
// success (including no_usage answers, whose tokens were served but not
// reported).
//
// Threads: handlers run on httplib's pool threads; all state is guarded.
// shutdown() wakes handlers sleeping in a delay_ms fault so the server can
// stop promptly.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "daemon/core/sync.h"
#include "tools/fake-provider/api_formats.h"
#include "tools/fake-provider/fault_script.h"

namespace tollgate::fake_provider {

struct FakeProviderOptions {
  uint64_t output_tokens = 20;  // default output token count per reply
  std::string api_key;          // empty: accept any key
  std::string tokenizer = "bytes4";  // or "chars"
};

struct ApiStats {
  uint64_t count_requests = 0;  // count_tokens requests answered
  uint64_t requests = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t errors = 0;
};

class FakeProvider {
 public:
  explicit FakeProvider(FakeProviderOptions options);

  // Registers every route on `server` (which must outlive nothing of ours:
  // the handlers capture `this`, so this object must outlive the server's
  // listening).
  void install(httplib::Server& server);

  FaultScript& faults() { return faults_; }
  nlohmann::json stats_json() const;
  void reset_stats();
  void shutdown();

 private:
  void handle_call(const std::string& api, const httplib::Request& req, httplib::Response& res);
  void handle_count(const httplib::Request& req, httplib::Response& res);
  uint64_t input_tokens(const ParsedCall& call) const;
  void answer_success(const std::string& api, const ParsedCall& call, const Fault& fault,
                      const httplib::Request& req, httplib::Response& res);
  void send_error(const std::string& api, const ApiError& error,
                  const std::optional<int>& retry_after_s, httplib::Response& res);
  // Sleeps up to `ms`, returning early at shutdown.
  void delay(int ms);
  void count(const std::string& api, uint64_t in, uint64_t out, bool error);

  // Constant after construction.
  const FakeProviderOptions options_;

  FaultScript faults_;  // thread-safe itself
  std::atomic<uint64_t> next_id_{1};

  mutable Mutex mu_;
  CondVar shutdown_cv_{mu_};
  bool shutting_down_ GUARDED_BY(mu_) = false;
  ApiStats anthropic_ GUARDED_BY(mu_);
  ApiStats openai_ GUARDED_BY(mu_);
};

}  // namespace tollgate::fake_provider
