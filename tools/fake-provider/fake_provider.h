// FakeProvider: the request handlers of the fake Anthropic/OpenAI server.
// Validates requests like the real services (api_formats.h), answers
// deterministically (fake_tools.h), applies the fault script, and counts
// every request and token it serves.
//
// Routes (install()): POST /v1/messages (Anthropic); POST
// /v1/chat/completions and /chat/completions (OpenAI); control endpoints
// under /_control (faults, stats, reset, health).
//
// Reply: tool calls when tool_choice forces one or the final user message
// holds `[call_tool NAME]` / `[call_tool NAME {json input}]` markers
// (fake_tools.h): Anthropic tool_use blocks (ids toolu_<instance>_...,
// stop_reason tool_use; marker replies start with a text block "calling
// NAME"), OpenAI tool_calls (ids call_<instance>_..., finish_reason tool_calls).
// Otherwise text: "echo: " + the last user message (first 200 bytes), or
// the tool results of the final turn ("tool result: ..."), cut before the
// first of the request's stop sequences it contains (stop_reason
// stop_sequence / finish_reason stop).
//
// Usage: input = ceil(bytes of all prompt text / 4), at least 1 (tokenizer
// "bytes4"), or one token per UTF-8 code point plus 3 per message and 3 per
// request (tokenizer "chars": as dense as real tokenizers are on CJK text,
// digits and code); tool definitions count as their text, tool_use inputs
// and tool results as theirs; images and the tool-use system prompt add
// fixed counts (image_tokens.h; Anthropic 346 tokens with tool_choice auto
// or none, 313 with any or tool; OpenAI 12). Prompt caching
// (prompt_cache.h): Anthropic input_tokens excludes
// cache_creation_input_tokens and cache_read_input_tokens; OpenAI
// prompt_tokens includes usage.prompt_tokens_details.cached_tokens (present
// only when non-zero). output = min(max_tokens, the fault's output_tokens
// or the configured count). POST /v1/messages/count_tokens answers
// {input_tokens} with the whole count (stats: count_requests).
// Streams: a request with "stream": true (Anthropic; OpenAI also
// "stream_options": {"include_usage": true}, allowed only with a stream, as
// the real API says) is answered 200 text/event-stream with the same reply
// in server-sent events (fake_stream.h), each event written as it is
// produced (httplib chunked encoding), with the stream faults of
// fault_script.h (stream_writer.h). Errors (validation, fault statuses)
// are the plain JSON answers, before any stream.
//
// Stats count, per API: every request received (`requests`), every answer
// that was not a complete success (`errors`: validation errors, fault
// statuses, truncate, drop, invalid_json, streams cut short), and the
// tokens of every complete success (input: all prompt tokens, cached ones
// included; including no_usage answers, whose tokens were served but not
// reported). A stream is a complete success once its last event is written
// (message_stop / data: [DONE]). Streams also count: `streams` (streamed
// answers begun with a 200), `streams_cut` (of them, the ones that ended
// before their last event: stream_cut_after, stream_error_after, truncate,
// the client going away, shutdown), `streams_client_closed` (of those, the
// ones a failed write ended: the client went away), and for the cut ones
// `stream_input_tokens` (all their input tokens, cached ones included) and
// `stream_output_tokens_sent` (the output tokens of the events written
// whole before the end, as fake_stream.h assigns them: the content deltas
// share the output count, so a stream cut after k of its n deltas counts
// ceil(output * k / n), one cut after its stop event the whole count). A
// stream's stats are updated before the client can see its end.
// POST /_control/reset zeroes the stats and forgets the prompt caches.
//
// Threads: handlers run on httplib's pool threads; all state is guarded.
// shutdown() wakes handlers sleeping in a delay_ms fault, and streams
// waiting in a stall or between events (they end, cut), so the server can
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
#include "tools/fake-provider/prompt_cache.h"
#include "tools/fake-provider/stream_writer.h"

namespace tollgate::fake_provider {

struct FakeProviderOptions {
  uint64_t output_tokens = 20;  // default output token count per reply
  std::string api_key;          // empty: accept any key
  bool no_auth = false;         // accept requests without a key (a local server)
  std::string tokenizer = "bytes4";  // or "chars"
};

struct ApiStats {
  uint64_t count_requests = 0;  // count_tokens requests answered
  uint64_t requests = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t errors = 0;
  uint64_t streams = 0;                // streamed answers begun (status 200)
  uint64_t streams_cut = 0;            // of them, ended before their last event
  uint64_t streams_client_closed = 0;  // of those, because the client went away
  uint64_t stream_input_tokens = 0;    // all input tokens of the cut streams
  uint64_t stream_output_tokens_sent = 0;  // output tokens of their events sent
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
  uint64_t input_tokens(const PromptSize& size) const;
  // The reply to a request that passed every check and fault: content,
  // stop reason and usage (recording its cacheable prefixes).
  ReplySpec build_reply(const std::string& api, const ParsedCall& call, const Fault& fault,
                        uint64_t id);
  // build_reply with the API's message id and request-id header.
  ReplySpec identified_reply(const std::string& api, const ParsedCall& call, const Fault& fault,
                             httplib::Response& res);
  void answer_success(const std::string& api, const ParsedCall& call, const Fault& fault,
                      const httplib::Request& req, httplib::Response& res);
  // A 200 in server-sent events (fake_stream.h), written by a StreamWriter.
  void answer_stream(const std::string& api, const ParsedCall& call, const Fault& fault,
                     httplib::Response& res);
  void send_error(const std::string& api, const ApiError& error,
                  const std::optional<int>& retry_after_s, httplib::Response& res);
  // Sleeps up to `ms`; false (at once) when shutting down.
  bool delay(int ms);
  void count(const std::string& api, uint64_t in, uint64_t out, bool error);
  // How a stream ended: in, all its input tokens; out, its output count.
  void count_stream(const std::string& api, uint64_t in, uint64_t out,
                    const StreamOutcome& outcome);

  // Constant after construction.
  const FakeProviderOptions options_;
  // Part of every tool call id, so two fake processes (two providers in a
  // chain) never give one conversation the same id twice.
  const std::string instance_;

  FaultScript faults_;  // thread-safe itself
  PromptCache anthropic_cache_;  // thread-safe itself
  PromptCache openai_cache_;     // thread-safe itself
  std::atomic<uint64_t> next_id_{1};

  mutable Mutex mu_;
  CondVar shutdown_cv_{mu_};
  bool shutting_down_ GUARDED_BY(mu_) = false;
  ApiStats anthropic_ GUARDED_BY(mu_);
  ApiStats openai_ GUARDED_BY(mu_);
};

}  // namespace tollgate::fake_provider
