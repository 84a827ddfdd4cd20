// Path-naming JSON readers shared by the provider formats.
#include "protocol/format_support.h"

namespace tollgate::protocol {

std::string joined_text(const std::vector<ContentBlock>& blocks) {
  std::string out;
  for (const auto& b : blocks) {
    if (b.type == ContentBlock::Type::kText) out += b.text;
  }
  return out;
}

namespace format {

void fail(const std::string& path, std::string_view problem) {
  throw FormatError(path + ": " + std::string(problem));
}

std::string at_index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string at_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const JsonValue* find(const JsonValue& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

const JsonValue& need(const JsonValue& obj, std::string_view key, const std::string& path) {
  const JsonValue* v = find(obj, key);
  if (v == nullptr) fail(at_key(path, key), "missing");
  return *v;
}

std::string need_string(const JsonValue& obj, std::string_view key, const std::string& path) {
  const JsonValue& v = need(obj, key, path);
  if (!v.is_string()) fail(at_key(path, key), "not a string");
  return v.get<std::string>();
}

std::optional<std::string> maybe_string(const JsonValue& obj, std::string_view key,
                                        const std::string& path) {
  const JsonValue* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) fail(at_key(path, key), "not a string");
  return v->get<std::string>();
}

std::optional<double> maybe_number(const JsonValue& obj, std::string_view key,
                                   const std::string& path) {
  const JsonValue* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) fail(at_key(path, key), "not a number");
  return v->get<double>();
}

std::optional<bool> maybe_bool(const JsonValue& obj, std::string_view key, const std::string& path) {
  const JsonValue* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) fail(at_key(path, key), "not a boolean");
  return v->get<bool>();
}

std::optional<uint64_t> maybe_count(const JsonValue& obj, std::string_view key,
                                    const std::string& path) {
  const JsonValue* v = find(obj, key);
  if (v == nullptr) return std::nullopt;
  const std::string where = at_key(path, key);
  if (!v->is_number_unsigned()) throw FormatError(where + " is not a count");
  const auto n = v->get<uint64_t>();
  if (n > kMaxReportedTokens) {
    throw FormatError(where + " is implausibly large: " + std::to_string(n));
  }
  return n;
}

void need_array(const JsonValue& v, const std::string& path) {
  if (!v.is_array()) fail(path, "not an array");
}

void append_strings(const JsonValue& v, const std::string& path, std::vector<std::string>& out) {
  need_array(v, path);
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) fail(at_index(path, i), "not a string");
    out.push_back(v[i].get<std::string>());
  }
}

void need_object(const JsonValue& v, const std::string& path) {
  if (!v.is_object()) fail(path, "not an object");
}

JsonValue string_or_null(const std::optional<std::string>& value) {
  return value ? JsonValue(*value) : JsonValue(nullptr);
}

}  // namespace format
}  // namespace tollgate::protocol
