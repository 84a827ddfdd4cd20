#include "workers/notify/render.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace tollgate::notify {
namespace {

using nlohmann::json;

// FNV-1a, 32 bits: a short stable tag of the destination's name.
uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The body as an object, or nullopt when it is not one.
std::optional<json> body_object(const OutboxItem& item) {
  json j = json::parse(item.body_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  return it->is_string() ? it->get<std::string>() : dump(*it);
}

// 133280 -> "133,280".
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// CR and LF would end a header line early (a header injected by an agent name).
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\r', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

// A header value as is when ASCII, else RFC 2047 encoded UTF-8.
std::string header_text(const std::string& s) {
  const bool ascii =
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return ascii ? s : "=?UTF-8?B?" + base64(s) + "?=";
}

// "agent imperium's anthropic budget" / "the global anthropic budget".
std::string budget_name(const std::string& agent, const std::string& provider) {
  const std::string p = provider.empty() ? "" : provider + " ";
  if (agent == "*") return "the global " + p + "budget";
  return "agent " + agent + "'s " + p + "budget";
}

// The alert's fields in a stable order: the known ones first.
std::vector<std::pair<std::string, std::string>> fields(const OutboxItem& item) {
  static const char* kOrder[] = {"level", "ai_name",   "provider", "percentage", "used",
                                 "limit", "threshold", "period",   "at_ms",      "message"};
  std::vector<std::pair<std::string, std::string>> out;
  auto j = body_object(item);
  if (!j) return {{"body", item.body_json}};
  for (const char* k : kOrder) {
    if (j->contains(k)) out.emplace_back(k, text(*j, k));
  }
  for (const auto& [k, v] : j->items()) {
    if (std::find(std::begin(kOrder), std::end(kOrder), k) == std::end(kOrder)) {
      out.emplace_back(k, v.is_string() ? v.get<std::string>() : dump(v));
    }
  }
  return out;
}

}  // namespace

std::string delivery_id(const OutboxItem& item) {
  char tag[9];
  std::snprintf(tag, sizeof tag, "%08x", fnv1a(item.destination));
  return std::to_string(item.id) + "-" + std::to_string(item.created_ms) + "-" + tag;
}

bool wants(const NotifyDestination& destination, const std::string& level) {
  return destination.levels.empty() ||
         std::find(destination.levels.begin(), destination.levels.end(), level) !=
             destination.levels.end();
}

std::string render_json(const OutboxItem& item) {
  json j = body_object(item).value_or(json::object({{"body", item.body_json}}));
  j["topic"] = item.topic;
  j["delivery_id"] = delivery_id(item);
  return dump(j);
}

std::string alert_line(const OutboxItem& item) {
  const auto j = body_object(item);
  const std::string level = item.level.empty() && j ? text(*j, "level") : item.level;
  if (!j) return level + ": " + item.body_json;
  const std::string message = text(*j, "message");
  const auto pct = j->find("percentage");
  const auto used = j->find("used");
  const auto limit = j->find("limit");
  const bool numbers = pct != j->end() && pct->is_number() && used != j->end() &&
                       used->is_number_unsigned() && limit != j->end() &&
                       limit->is_number_unsigned();
  if (!numbers || (level == "forecast" && !message.empty())) {
    return level + ": " + (message.empty() ? dump(*j) : message);
  }
  char p[32];
  std::snprintf(p, sizeof p, "%.1f%%", pct->get<double>());
  const std::string period = text(*j, "period");
  return level + ": " + budget_name(text(*j, "ai_name"), text(*j, "provider")) + " is at " + p +
         " (" + grouped(used->get<uint64_t>()) + " of " + grouped(limit->get<uint64_t>()) +
         " tokens" + (period.empty() ? "" : ", period " + period) + ")";
}

std::string render_slack(const OutboxItem& item) {
  return dump(json{{"text", "[tollgate] " + alert_line(item)}});
}

std::string rfc5322_date(int64_t unix_ms) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return out;
}

std::string render_email(const OutboxItem& item, const NotifyDestination& destination) {
  const std::string id = delivery_id(item);
  std::string to;
  for (const auto& r : destination.to) to += (to.empty() ? "" : ", ") + one_line(r);
  std::string m;
  m += "From: " + one_line(destination.from) + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Subject: " + header_text(one_line("[tollgate] " + alert_line(item))) + "\r\n";
  m += "Date: " + rfc5322_date(item.created_ms) + "\r\n";
  m += "Message-ID: <" + id + "@tollgate>\r\n";
  m += "X-Tollgate-Delivery: " + id + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: 8bit\r\n\r\n";
  m += one_line(alert_line(item)) + "\r\n\r\n";
  for (const auto& [k, v] : fields(item)) m += k + ": " + one_line(v) + "\r\n";
  m += "topic: " + one_line(item.topic) + "\r\n";
  m += "delivery_id: " + id + "\r\n";
  return m;
}

}  // namespace tollgate::notify
