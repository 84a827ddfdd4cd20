#include "tools/fake-provider/fault_script.h"

#include <charconv>
#include <string_view>

namespace tollgate::fake_provider {
namespace {

using nlohmann::json;

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool valid_api(const std::string& api) { return api == "anthropic" || api == "openai" || api == "*"; }

// Applies one key (with its value, or none for a flag) to `f`.
bool apply(Fault& f, const std::string& key, const std::optional<std::string>& value,
           std::string& error) {
  auto need = [&](auto& out) {
    using T = std::remove_reference_t<decltype(out)>;
    T v{};
    if (!value || !parse_number(*value, v)) {
      error = "fault key '" + key + "' needs a non-negative integer value";
      return false;
    }
    out = v;
    return true;
  };
  auto flag = [&](bool& out) {
    if (value && *value != "true" && *value != "1") {
      error = "fault flag '" + key + "' takes no value";
      return false;
    }
    out = true;
    return true;
  };
  int n = 0;
  uint64_t u = 0;
  size_t z = 0;
  if (key == "status") return need(f.status);
  if (key == "delay_ms") return need(f.delay_ms);
  if (key == "times") return need(n) && (f.times = n, true);
  if (key == "every") {
    if (!need(n)) return false;
    if (n < 1) {
      error = "fault key 'every' must be at least 1";
      return false;
    }
    f.every = n;
    return true;
  }
  if (key == "retry_after") return need(n) && (f.retry_after_s = n, true);
  if (key == "output_tokens") return need(u) && (f.output_tokens = u, true);
  if (key == "extra_output_tokens") return need(u) && (f.extra_output_tokens = u, true);
  if (key == "body_bytes") return need(z) && (f.body_bytes = z, true);
  if (key == "stream_cut_after") return need(z) && (f.stream_cut_after = z, true);
  if (key == "stream_stall_after") return need(z) && (f.stream_stall_after = z, true);
  if (key == "stall_ms") return need(f.stall_ms);
  if (key == "stream_error_after") return need(z) && (f.stream_error_after = z, true);
  if (key == "event_delay_ms") return need(f.event_delay_ms);
  if (key == "split") {
    if (!need(f.split)) return false;
    if (f.split < 1) {
      error = "fault key 'split' must be at least 1";
      return false;
    }
    return true;
  }
  if (key == "truncate") return flag(f.truncate);
  if (key == "drop") return flag(f.drop);
  if (key == "no_usage") return flag(f.no_usage);
  if (key == "invalid_json") return flag(f.invalid_json);
  if (key == "insufficient_quota") return flag(f.insufficient_quota);
  error = "unknown fault key '" + key + "'";
  return false;
}

// The keys that only make sense together.
bool check_combination(const Fault& f, std::string& error) {
  if (f.stream_stall_after.has_value() != (f.stall_ms > 0)) {
    error = "fault keys 'stream_stall_after' and 'stall_ms' go together";
    return false;
  }
  return true;
}

std::optional<Fault> fault_from_object(const json& obj, std::string& error) {
  Fault f;
  for (const auto& [key, value] : obj.items()) {
    if (key == "api") {
      if (!value.is_string() || !valid_api(value.get<std::string>())) {
        error = "fault api must be anthropic, openai or *";
        return std::nullopt;
      }
      f.api = value.get<std::string>();
      continue;
    }
    std::optional<std::string> text;
    if (value.is_boolean()) {
      if (!value.get<bool>()) continue;  // false flag: not set
    } else if (value.is_number_unsigned()) {
      text = std::to_string(value.get<uint64_t>());
    } else if (!value.is_null()) {
      error = "fault key '" + key + "' must be a boolean or non-negative integer";
      return std::nullopt;
    } else {
      continue;
    }
    if (!apply(f, key, text, error)) return std::nullopt;
  }
  if (!check_combination(f, error)) return std::nullopt;
  return f;
}

}  // namespace

json Fault::to_json() const {
  json j = {{"api", api}};
  if (times) j["times"] = *times;
  if (every != 1) j["every"] = every;
  if (status) j["status"] = status;
  if (retry_after_s) j["retry_after"] = *retry_after_s;
  if (delay_ms) j["delay_ms"] = delay_ms;
  if (truncate) j["truncate"] = true;
  if (drop) j["drop"] = true;
  if (no_usage) j["no_usage"] = true;
  if (invalid_json) j["invalid_json"] = true;
  if (insufficient_quota) j["insufficient_quota"] = true;
  if (output_tokens) j["output_tokens"] = *output_tokens;
  if (extra_output_tokens) j["extra_output_tokens"] = extra_output_tokens;
  if (body_bytes) j["body_bytes"] = *body_bytes;
  if (stream_cut_after) j["stream_cut_after"] = *stream_cut_after;
  if (stream_stall_after) j["stream_stall_after"] = *stream_stall_after;
  if (stall_ms) j["stall_ms"] = stall_ms;
  if (stream_error_after) j["stream_error_after"] = *stream_error_after;
  if (split) j["split"] = split;
  if (event_delay_ms) j["event_delay_ms"] = event_delay_ms;
  return j;
}

bool Fault::streams_only() const {
  return stream_cut_after || stream_stall_after || stream_error_after || split > 0 ||
         event_delay_ms > 0;
}

std::optional<Fault> parse_fault(const std::string& text, std::string& error) {
  Fault f;
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    size_t end = text.find(':', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    start = end + 1;
    if (first) {
      first = false;
      if (!valid_api(part)) {
        error = "fault '" + text + "' must start with anthropic, openai or *";
        return std::nullopt;
      }
      f.api = part;
      continue;
    }
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::optional<std::string> value;
    if (eq != std::string::npos) value = part.substr(eq + 1);
    if (!apply(f, part.substr(0, eq), value, error)) return std::nullopt;
  }
  if (!check_combination(f, error)) return std::nullopt;
  return f;
}

std::optional<std::vector<Fault>> parse_faults(const json& list, std::string& error) {
  if (!list.is_array()) {
    error = "faults must be a JSON array";
    return std::nullopt;
  }
  std::vector<Fault> out;
  for (const auto& item : list) {
    std::optional<Fault> f;
    if (item.is_string()) {
      f = parse_fault(item.get<std::string>(), error);
    } else if (item.is_object()) {
      f = fault_from_object(item, error);
    } else {
      error = "each fault must be a string or an object";
    }
    if (!f) return std::nullopt;
    out.push_back(std::move(*f));
  }
  return out;
}

void FaultScript::replace(std::vector<Fault> faults) {
  MutexLock lock(mu_);
  faults_ = std::move(faults);
}

void FaultScript::clear() { replace({}); }

std::optional<Fault> FaultScript::next(const std::string& api, bool stream) {
  MutexLock lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->api != api && it->api != "*") continue;
    if (it->streams_only() && !stream) continue;
    if (it->times && *it->times <= 0) continue;
    if (it->every > 1 && ++it->seen % static_cast<uint64_t>(it->every) != 0) continue;
    Fault fired = *it;
    if (it->times && --*it->times == 0) faults_.erase(it);
    return fired;
  }
  return std::nullopt;
}

json FaultScript::to_json() const {
  MutexLock lock(mu_);
  json list = json::array();
  for (const auto& f : faults_) list.push_back(f.to_json());
  return list;
}

}  // namespace tollgate::fake_provider
