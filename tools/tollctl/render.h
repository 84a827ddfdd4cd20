// Human-readable rendering of tollgated replies and events for tollctl:
// aligned tables, usage bars with the 80/95/98/100% levels marked, and
// ANSI colour only when the caller's Style allows it (stdout is a terminal
// and NO_COLOR is unset). Reply fields follow PROTOCOL.md sections 3 and 4;
// a missing or mistyped field renders as "-" instead of throwing, so a
// newer daemon with extra or changed fields still prints something.
// Pure functions writing to the stream they are given; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tollgate::tools {

struct Style {
  bool color = false;
};

// Colour when stdout is a terminal and NO_COLOR is unset.
Style detect_style();

// "[#########-----------]  45.2%" plus a level word at 80/95/98/100%
// ("warning", "critical", "emergency", "exhausted"), coloured by level.
std::string usage_bar(double percentage, const Style& style);

// Columns padded to their widest cell (ANSI escapes do not count).
class Table {
 public:
  // `align` has one letter per column: 'l' or 'r'.
  Table(std::vector<std::string> headers, std::string align);
  void add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out, const Style& style) const;

 private:
  std::vector<std::string> headers_;
  std::string align_;
  std::vector<std::vector<std::string>> rows_;
};

// Field access that never throws: a missing, nil or mistyped field gives
// "-" (strings) or 0 (numbers).
// obj[key], or an empty object when obj is not an object or key is missing or nil.
const nlohmann::json& member(const nlohmann::json& obj, const char* key);
std::string field_str(const nlohmann::json& obj, const char* key);
double field_num(const nlohmann::json& obj, const char* key);
// Token counts with thousands separators; "-" for nil (e.g. no limit).
std::string field_tokens(const nlohmann::json& obj, const char* key);
// "$0.0123"
std::string field_cost(const nlohmann::json& obj, const char* key);
// The bar for obj["percentage"], or "-" when obj has no limit.
std::string field_bar(const nlohmann::json& obj, const Style& style);

std::string format_uptime(uint64_t ms);
// "2026-11-27 01:36:44" (UTC).
std::string format_time_ms(int64_t ms);

void render_ping(const nlohmann::json& reply, const std::string& endpoint, std::ostream& out);
void render_summary(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_usage(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_provider_status(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_recommend(const std::string& agent, const nlohmann::json& reply, std::ostream& out);
void render_emergency_status(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_alerts(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_history(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_ledger_events(const nlohmann::json& reply, const Style& style, std::ostream& out);
void render_reset(const nlohmann::json& reply, std::ostream& out);

// ---- section 10 operator ops (render_ops.cpp) ----

// The overrides of `limits`: agent, provider, limits, when (ISO UTC), who.
void render_limits(const nlohmann::json& reply, const Style& style, std::ostream& out);
// One row per budget of `forecast`: used, limit, rate/day, projected
// end-of-period usage, projected exhaustion time ("—": not this period).
void render_forecast(const nlohmann::json& reply, const Style& style, std::ostream& out);
// The days of `daily` as they come (newest first): per provider tokens,
// requests and cost, then the day's totals; the sum of all below.
void render_daily(const nlohmann::json& reply, const Style& style, std::ostream& out);
// The days of `daily` as CSV: the header `date,provider,used,requests,cost_usd`
// and one line per day and provider (RFC 4180 quoting, lines end in "\n").
void render_daily_csv(const nlohmann::json& reply, std::ostream& out);
// What a `ledger` event of kind `limit` says: "imperium anthropic 150 (was
// configured) by local".
std::string ledger_limit_detail(const nlohmann::json& event);
// The text on `out`; provider, model, reason, tokens and cost on `info`.
void render_call(const nlohmann::json& reply, std::ostream& out, std::ostream& info);
// Just the second part: one line of provider, model, reason, tokens, cost
// and stop reason.
void render_call_summary(const nlohmann::json& reply, std::ostream& info);

// ---- `tollctl call --stream` (PROTOCOL.md section 9; render_stream.cpp) ----

// Where the printed stream stands between parts.
struct StreamOutput {
  uint64_t parts = 0;                  // parts printed
  std::optional<uint64_t> index;       // the content block of the last one
  bool line_open = false;              // the last thing printed did not end its line
};

// True for a part of a streamed reply (`ok` and a `chunk`); false for the
// last message: the call's reply or an error reply.
bool is_stream_part(const nlohmann::json& message);

// Prints one part as it arrives, on a line of its own when its content
// block differs from the last part's: text_delta's text as it is,
// tool_use_start as the line "[tool_use NAME id=ID]", input_json_delta's
// partial_json as it is. A chunk type this tollctl does not know prints
// nothing. Flushes `out`.
void render_part(const nlohmann::json& part, StreamOutput& state, std::ostream& out);

// After the parts, the call's reply: ends the open line and writes the
// summary on `info`. A reply that came with no parts (a replayed call)
// is printed whole, as render_call prints it.
void render_stream_reply(const nlohmann::json& reply, StreamOutput& state, std::ostream& out,
                         std::ostream& info);

// After the parts, an error reply: ends the open line, then
// "tollctl: CODE: MESSAGE" on `err`, and when the reply says `partial`, a
// line saying that the parts printed are all that came.
void render_stream_error(const nlohmann::json& reply, StreamOutput& state, std::ostream& out,
                         std::ostream& err);
// One line, no newline.
std::string render_event(const std::string& topic, const nlohmann::json& body, const Style& style);

}  // namespace tollgate::tools
