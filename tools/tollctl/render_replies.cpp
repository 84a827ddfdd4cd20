// Per-op renderers of render.h: one function per reply shape of
// PROTOCOL.md section 3, and the one-line event format of section 4.
#include <algorithm>
#include <string>

#include "tools/tollctl/render.h"

namespace tollgate::tools {
namespace {

using nlohmann::json;

// The global (all agents) provider map of summary and emergency_status.
void print_global_providers(const json& providers, const Style& style, std::ostream& out) {
  Table t({"PROVIDER", "USED", "RESERVED", "LIMIT", "REQUESTS", "COST", "USAGE"}, "lrrrrrl");
  for (const auto& [name, p] : providers.items()) {
    t.add({name, field_tokens(p, "used"), field_tokens(p, "reserved"), field_tokens(p, "limit"),
           field_tokens(p, "requests"), field_cost(p, "cost_usd"), field_bar(p, style)});
  }
  t.print(out, style);
}

// "1,234" for a bare token count.
std::string tokens_text(const json& n) { return field_tokens(json{{"n", n}}, "n"); }

// What one `ledger` event says, by kind; a kind this tollctl does not know
// (from a newer daemon) as its fields in JSON.
std::string ledger_event_detail(const json& e) {
  const std::string kind = field_str(e, "kind");
  if (kind == "reset") {
    std::string d = field_str(e, "ai_name") + " in " + field_str(e, "period") + ": cleared";
    bool any = false;
    for (const auto& [name, tokens] : member(e, "cleared").items()) {
      d += (any ? ", " : " ") + name + " " + tokens_text(tokens);
      any = true;
    }
    return any ? d : d + " nothing";
  }
  if (kind == "rollover") return field_str(e, "previous_period") + " -> " + field_str(e, "period");
  if (kind == "recovered") {
    std::string d = field_tokens(e, "total_tokens") + " tokens of reservations left by a crash charged:";
    const json& entries = e.contains("entries") && e["entries"].is_array() ? e["entries"] : json::array();
    bool any = false;
    for (const auto& c : entries) {
      d += std::string(any ? "," : "") + " " + field_str(c, "ai_name") + " " + field_str(c, "provider") + " " +
           field_str(c, "period") + " " + field_tokens(c, "tokens");
      any = true;
    }
    return d;
  }
  if (kind == "limit") return ledger_limit_detail(e);
  json rest = e.is_object() ? e : json::object();
  rest.erase("kind");
  rest.erase("at_ms");
  return rest.dump();
}

}  // namespace

void render_ping(const json& reply, const std::string& endpoint, std::ostream& out) {
  out << "tollgated " << field_str(reply, "version") << " at " << endpoint << ": up "
      << format_uptime(static_cast<uint64_t>(field_num(reply, "uptime_ms"))) << ", pid "
      << field_str(reply, "pid") << "\n";
}

void render_summary(const json& reply, const Style& style, std::ostream& out) {
  out << "period " << field_str(reply, "period") << "\n\n";
  print_global_providers(member(reply, "providers"), style, out);
  out << "\n";
  Table agents({"AGENT", "LEVEL", "PROVIDER", "USED", "LIMIT", "USAGE"}, "lllrrl");
  const json& list = reply.contains("agents") && reply["agents"].is_array() ? reply["agents"] : json::array();
  for (const auto& a : list) {
    bool first = true;
    for (const auto& [name, p] : member(a, "providers").items()) {
      agents.add({first ? field_str(a, "ai_name") : "", first ? field_str(a, "level") : "", name,
                  field_tokens(p, "used"), field_tokens(p, "limit"), field_bar(p, style)});
      first = false;
    }
    if (first) agents.add({field_str(a, "ai_name"), field_str(a, "level")});
  }
  if (agents.empty()) {
    out << "no agents\n";
  } else {
    agents.print(out, style);
  }
  const json& totals = member(reply, "totals");
  out << "\ntotal: " << field_tokens(totals, "used") << " tokens, " << field_tokens(totals, "requests")
      << " requests, " << field_cost(totals, "cost_usd") << "\n";
}

void render_usage(const json& reply, const Style& style, std::ostream& out) {
  out << field_str(reply, "ai_name") << "  period " << field_str(reply, "period") << "  level "
      << field_str(reply, "level") << "  recommended " << field_str(reply, "recommended") << "\n\n";
  Table t({"PROVIDER", "USED", "RESERVED", "LIMIT", "REMAINING", "REQUESTS", "COST", "USAGE"}, "lrrrrrrl");
  for (const auto& [name, p] : member(reply, "providers").items()) {
    t.add({name, field_tokens(p, "used"), field_tokens(p, "reserved"), field_tokens(p, "limit"),
           field_tokens(p, "remaining"), field_tokens(p, "requests"), field_cost(p, "cost_usd"),
           field_bar(p, style)});
  }
  t.print(out, style);
}

void render_provider_status(const json& reply, const Style& style, std::ostream& out) {
  Table providers({"PROVIDER", "CONFIGURED", "CIRCUIT", "MINUTE", "DAY", "USED", "LIMIT", "USAGE"},
                  "lllrrrrl");
  for (const auto& [name, p] : member(reply, "providers").items()) {
    const json& rate = member(p, "rate");
    providers.add({name, field_str(p, "configured"), field_str(p, "circuit"),
                   field_tokens(rate, "minute_used") + "/" + field_tokens(rate, "minute_limit"),
                   field_tokens(rate, "day_used") + "/" + field_tokens(rate, "day_limit"),
                   field_tokens(p, "used"), field_tokens(p, "limit"), field_bar(p, style)});
  }
  providers.print(out, style);
  const json& list = reply.contains("agents") && reply["agents"].is_array() ? reply["agents"] : json::array();
  if (list.empty()) return;
  out << "\n";
  Table agents({"AGENT", "RECOMMENDED", "REASON", "PROVIDER", "AVAILABLE", "USAGE", "WHY"}, "llllll");
  for (const auto& a : list) {
    bool first = true;
    for (const auto& [name, p] : member(a, "providers").items()) {
      agents.add({first ? field_str(a, "ai_name") : "", first ? field_str(a, "recommended") : "",
                  first ? field_str(a, "reason") : "", name, field_str(p, "available"),
                  usage_bar(field_num(p, "percentage"), style), field_str(p, "why")});
      first = false;
    }
  }
  agents.print(out, style);
}

void render_recommend(const std::string& agent, const json& reply, std::ostream& out) {
  const bool available = reply.contains("available") && reply["available"] == true;
  if (available) {
    out << agent << ": " << field_str(reply, "provider") << " (" << field_str(reply, "reason") << ")\n";
  } else {
    out << agent << ": no provider available (" << field_str(reply, "reason") << ")\n";
  }
}

void render_emergency_status(const json& reply, const Style& style, std::ostream& out) {
  out << "level " << field_str(reply, "level") << "  shutdown " << field_str(reply, "shutdown") << "\n";
  if (reply.contains("reasons") && reply["reasons"].is_array()) {
    for (const auto& r : reply["reasons"]) out << "  - " << (r.is_string() ? r.get<std::string>() : r.dump()) << "\n";
  }
  out << "\n";
  print_global_providers(member(reply, "providers"), style, out);
  const json& risk = reply.contains("agents_at_risk") && reply["agents_at_risk"].is_array()
                         ? reply["agents_at_risk"] : json::array();
  out << "\n";
  if (risk.empty()) {
    out << "no agents at risk\n";
    return;
  }
  Table t({"AGENT", "PROVIDER", "LEVEL", "USAGE"}, "llll");
  for (const auto& a : risk) {
    t.add({field_str(a, "ai_name"), field_str(a, "provider"), field_str(a, "level"),
           usage_bar(field_num(a, "percentage"), style)});
  }
  t.print(out, style);
}

void render_alerts(const json& reply, const Style& style, std::ostream& out) {
  const json& list = reply.contains("alerts") && reply["alerts"].is_array() ? reply["alerts"] : json::array();
  if (list.empty()) {
    out << "no alerts\n";
    return;
  }
  Table t({"TIME (UTC)", "LEVEL", "AGENT", "PROVIDER", "USED", "LIMIT", "USAGE", "MESSAGE"}, "llllrrll");
  for (const auto& a : list) {
    t.add({format_time_ms(static_cast<int64_t>(field_num(a, "at_ms"))), field_str(a, "level"),
           field_str(a, "ai_name"), field_str(a, "provider"), field_tokens(a, "used"), field_tokens(a, "limit"),
           usage_bar(field_num(a, "percentage"), style), field_str(a, "message")});
  }
  t.print(out, style);
}

void render_history(const json& reply, const Style& style, std::ostream& out) {
  const json& months = reply.contains("months") && reply["months"].is_array() ? reply["months"] : json::array();
  std::vector<std::string> names;
  for (const auto& m : months) {
    for (const auto& [name, p] : member(m, "providers").items()) {
      (void)p;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<std::string> headers = {"PERIOD"};
  std::string align = "l";
  for (const auto& n : names) {
    headers.push_back(n);
    align += 'r';
  }
  for (const char* h : {"TOTAL", "CLEARED", "REQUESTS", "COST"}) {
    headers.push_back(h);
    align += 'r';
  }
  Table t(headers, align);
  for (const auto& m : months) {
    std::vector<std::string> row = {field_str(m, "period")};
    uint64_t requests = 0;
    uint64_t cleared = 0;  // tokens resets removed from the month's usage
    for (const auto& n : names) {
      const json& p = member(member(m, "providers"), n.c_str());
      row.push_back(p.contains("used") ? field_tokens(p, "used") : "0");
      requests += static_cast<uint64_t>(field_num(p, "requests"));
      cleared += static_cast<uint64_t>(field_num(p, "cleared"));
    }
    row.push_back(field_tokens(m, "total_tokens"));
    row.push_back(tokens_text(cleared));
    row.push_back(std::to_string(requests));
    row.push_back(field_cost(m, "cost_usd"));
    t.add(std::move(row));
  }
  out << field_str(reply, "ai_name") << ": last " << months.size() << " months\n\n";
  t.print(out, style);
}

void render_ledger_events(const json& reply, const Style& style, std::ostream& out) {
  const json& list = reply.contains("events") && reply["events"].is_array() ? reply["events"] : json::array();
  if (list.empty()) {
    out << "no ledger events\n";
    return;
  }
  Table t({"TIME (UTC)", "KIND", "WHAT"}, "lll");
  for (const auto& e : list) {
    t.add({format_time_ms(static_cast<int64_t>(field_num(e, "at_ms"))), field_str(e, "kind"),
           ledger_event_detail(e)});
  }
  t.print(out, style);
}

void render_reset(const json& reply, std::ostream& out) {
  out << "reset " << field_str(reply, "ai_name") << " (" << field_str(reply, "period") << "): cleared";
  bool any = false;
  for (const auto& [name, tokens] : member(reply, "cleared").items()) {
    out << (any ? ", " : " ") << name << " " << tokens_text(tokens) << " tokens";
    any = true;
  }
  if (!any) out << " nothing";
  out << "\n";
}

void render_call(const json& reply, std::ostream& out, std::ostream& info) {
  out << field_str(reply, "text") << "\n";
  // Section 8: the tools the model asked for, one line each, after the text.
  const json& content = member(reply, "content");
  for (const auto& block : content.is_array() ? content : json::array()) {
    if (!block.is_object() || field_str(block, "type") != "tool_use") continue;
    const json& input = member(block, "input");
    out << "tool_use " << field_str(block, "name") << " (" << field_str(block, "id")
        << "): " << input.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
  out.flush();
  render_call_summary(reply, info);
}

void render_call_summary(const json& reply, std::ostream& info) {
  const json& usage = member(reply, "usage");
  info << "provider " << field_str(reply, "provider") << "  model " << field_str(reply, "model")
       << "  reason " << field_str(reply, "reason") << "  tokens " << field_tokens(usage, "input_tokens")
       << " in + " << field_tokens(usage, "output_tokens") << " out = " << field_tokens(usage, "total_tokens");
  if (usage.contains("cache_read_input_tokens") || usage.contains("cache_creation_input_tokens")) {
    info << " (cache: " << field_tokens(usage, "cache_read_input_tokens") << " read, "
         << field_tokens(usage, "cache_creation_input_tokens") << " written)";
  }
  info << "  cost " << field_cost(reply, "cost_usd");
  if (reply.contains("stop_reason") && reply["stop_reason"].is_string()) info << "  stop " << field_str(reply, "stop_reason");
  if (reply.contains("replayed") && reply["replayed"] == true) info << "  (replayed)";
  if (reply.contains("cached") && reply["cached"] == true) info << "  (cached)";
  info << "\n";
}

std::string render_event(const std::string& topic, const json& body, const Style& style) {
  std::string line = format_time_ms(static_cast<int64_t>(field_num(body, "at_ms"))) + "  " + topic + "  ";
  if (topic.rfind("usage.", 0) == 0) {
    line += field_str(body, "provider") + "/" + field_str(body, "model") + "  " +
            field_tokens(body, "total_tokens") + " tokens  " + field_cost(body, "cost_usd") + "  " +
            field_str(body, "reason");
    if (body.contains("cached") && body["cached"] == true) line += "  cached";
  } else if (topic.rfind("alert.", 0) == 0) {
    line += usage_bar(field_num(body, "percentage"), style) + "  " + field_str(body, "message");
  } else if (topic.rfind("provider.", 0) == 0) {
    line += "circuit " + field_str(body, "circuit") + "  " + field_str(body, "reason");
  } else {
    json rest = body;
    if (rest.is_object()) rest.erase("at_ms");
    line += rest.dump();
  }
  return line;
}

}  // namespace tollgate::tools
