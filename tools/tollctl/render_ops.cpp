// Renderers of render.h for the operator ops of PROTOCOL.md section 10:
// `limits` (the overrides set with set_limit), `forecast`, `daily` (as a
// table and as CSV), and the `limit` kind of a `ledger` event.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/tollctl/render.h"

namespace tollgate::tools {
namespace {

using nlohmann::json;

const json& array_of(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json& a = member(obj, key);
  return a.is_array() ? a : kEmpty;
}

bool is_nil(const json& obj, const char* key) {
  return !obj.is_object() || !obj.contains(key) || obj[key].is_null();
}

// An unsigned count read exactly (0 when missing or not one).
uint64_t count_of(const json& obj, const char* key) {
  const json& v = obj.is_object() && obj.contains(key) ? obj[key] : json();
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (!v.is_number_integer() || v.get<int64_t>() <= 0) return 0;
  return static_cast<uint64_t>(v.get<int64_t>());
}

// "2026-11-29T17:35:34Z"
std::string iso_time_ms(int64_t ms) {
  std::string t = format_time_ms(ms);
  if (t.size() == 19 && t[10] == ' ') t = t.substr(0, 10) + "T" + t.substr(11) + "Z";
  return t;
}

// "12.50" dollars (no sign) for a limit_usd.
std::string dollars(double usd) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.2f", usd);
  return buf;
}

// An override's tokens and dollars: "150", "150 + $5.00", "$5.00", or
// "configured" when it sets neither.
std::string limit_text(const json& obj, const char* tokens_key, const char* usd_key) {
  std::string out;
  if (!is_nil(obj, tokens_key)) out = field_tokens(obj, tokens_key);
  if (!is_nil(obj, usd_key)) out += (out.empty() ? "" : " + ") + dollars(field_num(obj, usd_key));
  return out.empty() ? "configured" : out;
}

// Whole tokens per day, with separators: "1,234".
std::string rate_text(double rate) {
  const double r = std::isfinite(rate) && rate > 0 ? std::round(rate) : 0.0;
  return field_tokens(json{{"n", static_cast<uint64_t>(r)}}, "n");
}

// A cost in plain decimal notation, no trailing zeros: "0.000123".
std::string csv_cost(double usd) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9f", std::isfinite(usd) ? usd : 0.0);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// RFC 4180: quoted (quotes doubled) when it holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The providers named in any day, in the order first seen.
std::vector<std::string> daily_providers(const json& days) {
  std::vector<std::string> names;
  for (const auto& d : days) {
    for (const auto& [name, p] : member(d, "providers").items()) {
      (void)p;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

}  // namespace

std::string ledger_limit_detail(const json& e) {
  std::string who = field_str(e, "set_by");
  // A CurveZMQ key is 40 characters; its start names it well enough here.
  if (who.rfind("curve:", 0) == 0 && who.size() > 18) who = who.substr(0, 18) + "…";
  return field_str(e, "ai_name") + " " + field_str(e, "provider") + " " +
         limit_text(e, "limit", "limit_usd") + " (was " +
         limit_text(e, "previous_limit", "previous_limit_usd") + ") by " + who;
}

void render_limits(const json& reply, const Style& style, std::ostream& out) {
  const json& list = array_of(reply, "limits");
  if (list.empty()) {
    out << "no limit overrides: the configured limits apply\n";
    return;
  }
  Table t({"AGENT", "PROVIDER", "LIMIT", "LIMIT USD", "SET AT (UTC)", "SET BY"}, "llrrll");
  for (const auto& l : list) {
    t.add({field_str(l, "ai_name"), field_str(l, "provider"),
           is_nil(l, "limit") ? "configured" : field_tokens(l, "limit"),
           is_nil(l, "limit_usd") ? "configured" : dollars(field_num(l, "limit_usd")),
           iso_time_ms(static_cast<int64_t>(field_num(l, "set_at_ms"))), field_str(l, "set_by")});
  }
  t.print(out, style);
}

void render_forecast(const json& reply, const Style& style, std::ostream& out) {
  out << "period " << field_str(reply, "period") << " ends "
      << format_time_ms(static_cast<int64_t>(field_num(reply, "period_end_ms")))
      << " UTC; rate over the last " << field_str(reply, "window_days") << " days\n\n";
  Table t({"AGENT", "PROVIDER", "USED", "LIMIT", "RATE/DAY", "PROJECTED", "EXHAUSTED AT (UTC)"},
          "llrrrrl");
  for (const auto& [agent, providers] : member(reply, "agents").items()) {
    bool first = true;
    for (const auto& [name, b] : providers.items()) {
      const auto at = static_cast<int64_t>(field_num(b, "projected_exhausted_at_ms"));
      t.add({first ? agent : "", name, field_tokens(b, "used"), field_tokens(b, "limit"),
             rate_text(field_num(b, "daily_rate")), field_tokens(b, "projected_period_end_usage"),
             is_nil(b, "projected_exhausted_at_ms") ? "—" : format_time_ms(at)});
      first = false;
    }
  }
  if (t.empty()) {
    out << "no budgets\n";
    return;
  }
  t.print(out, style);
}

void render_daily(const json& reply, const Style& style, std::ostream& out) {
  const json& days = array_of(reply, "days");
  const std::vector<std::string> names = daily_providers(days);
  std::vector<std::string> headers = {"DATE"};
  std::string align = "l";
  for (const auto& n : names) {
    headers.insert(headers.end(), {n, "REQ", "COST"});
    align += "rrr";
  }
  headers.insert(headers.end(), {"TOTAL", "REQUESTS", "COST"});
  align += "rrr";
  Table t(headers, align);
  uint64_t all_tokens = 0, all_requests = 0;
  double all_cost = 0;
  for (const auto& d : days) {
    std::vector<std::string> row = {field_str(d, "date")};
    uint64_t tokens = 0, requests = 0;
    double cost = 0;
    for (const auto& n : names) {
      const json& p = member(member(d, "providers"), n.c_str());
      row.insert(row.end(), {is_nil(p, "used") ? "0" : field_tokens(p, "used"),
                             is_nil(p, "requests") ? "0" : field_tokens(p, "requests"),
                             field_cost(p, "cost_usd")});
      tokens += count_of(p, "used");
      requests += count_of(p, "requests");
      cost += field_num(p, "cost_usd");
    }
    const json totals = {{"used", tokens}, {"requests", requests}, {"cost_usd", cost}};
    row.insert(row.end(), {field_tokens(totals, "used"), field_tokens(totals, "requests"),
                           field_cost(totals, "cost_usd")});
    t.add(std::move(row));
    all_tokens += tokens;
    all_requests += requests;
    all_cost += cost;
  }
  const std::string who = is_nil(reply, "ai_name") ? "all agents" : field_str(reply, "ai_name");
  out << who << ": last " << days.size() << " days (UTC), newest first\n\n";
  t.print(out, style);
  const json sum = {{"used", all_tokens}, {"requests", all_requests}, {"cost_usd", all_cost}};
  out << "\ntotal: " << field_tokens(sum, "used") << " tokens, " << field_tokens(sum, "requests")
      << " requests, " << field_cost(sum, "cost_usd") << "\n";
}

void render_daily_csv(const json& reply, std::ostream& out) {
  const json& days = array_of(reply, "days");
  const std::vector<std::string> names = daily_providers(days);
  out << "date,provider,used,requests,cost_usd\n";
  for (const auto& d : days) {
    for (const auto& n : names) {
      const json& p = member(member(d, "providers"), n.c_str());
      out << csv_field(field_str(d, "date")) << "," << csv_field(n) << ","
          << count_of(p, "used") << "," << count_of(p, "requests") << ","
          << csv_cost(field_num(p, "cost_usd")) << "\n";
    }
  }
}

}  // namespace tollgate::tools
