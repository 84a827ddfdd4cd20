#include "protocol/field_reader.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "protocol/packer.h"
#include "protocol/requests.h"

namespace tollgate::protocol::detail {
namespace {

constexpr std::string_view kAgentRule = "1-64 chars of [A-Za-z0-9_.-]";
constexpr std::string_view kAgentOrStarRule = "\"*\" or 1-64 chars of [A-Za-z0-9_.-]";
constexpr size_t kMaxAgentName = 64;

std::string string_rule(size_t min_bytes, size_t max_bytes) {
  if (max_bytes == std::numeric_limits<size_t>::max()) {
    return min_bytes == 0 ? "string" : "non-empty string";
  }
  return "string of " + std::to_string(min_bytes) + "-" + std::to_string(max_bytes) + " bytes";
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // ASCII fast path: 8 bytes at a time.
    if (end - p >= 8) {
      uint64_t chunk;
      std::memcpy(&chunk, p, 8);
      if ((chunk & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    // Overlong forms, surrogates, beyond U+10FFFF.
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

bool valid_agent_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxAgentName) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

FieldReader::FieldReader(const msgpack::object& map, std::string path)
    : begin_(map.via.map.ptr), end_(map.via.map.ptr + map.via.map.size), path_(std::move(path)) {}

std::string FieldReader::path_of(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

void FieldReader::fail(std::string_view key, std::string_view rule) {
  if (error_) return;
  std::string where = key.empty() ? path_ : path_of(key);
  error_ = Error::bad_request(where + ": " + std::string(rule));
}

void FieldReader::missing(std::string_view key, std::string_view rule) {
  fail(key, "required; " + std::string(rule));
}

bool FieldReader::check_string_keys() {
  for (const auto* kv = begin_; kv != end_; ++kv) {
    if (kv->key.type != msgpack::type::STR) {
      fail("", "map keys must be strings");
      if (path_.empty()) error_->message = "body: map keys must be strings";
      return false;
    }
  }
  return true;
}

const msgpack::object* FieldReader::find(std::string_view key) {
  if (error_) return nullptr;
  const msgpack::object* found = nullptr;
  for (const auto* kv = begin_; kv != end_; ++kv) {
    if (kv->key.type != msgpack::type::STR || kv->key.via.str.size != key.size() ||
        std::memcmp(kv->key.via.str.ptr, key.data(), key.size()) != 0) {
      continue;
    }
    if (found) {
      fail(key, "given more than once");
      return nullptr;
    }
    found = &kv->val;
  }
  if (found && found->type == msgpack::type::NIL) return nullptr;
  return found;
}

bool FieldReader::read_string(const msgpack::object& o, std::string_view key, size_t min_bytes,
                              size_t max_bytes, std::string& out) {
  if (o.type != msgpack::type::STR || o.via.str.size < min_bytes || o.via.str.size > max_bytes) {
    fail(key, string_rule(min_bytes, max_bytes));
    return false;
  }
  std::string_view s(o.via.str.ptr, o.via.str.size);
  if (!valid_utf8(s)) {
    fail(key, "not valid UTF-8");
    return false;
  }
  out.assign(s);
  return true;
}

void FieldReader::string(std::string_view key, size_t min_bytes, size_t max_bytes,
                         std::string& out) {
  const msgpack::object* o = find(key);
  if (!o) {
    missing(key, string_rule(min_bytes, max_bytes));
    return;
  }
  read_string(*o, key, min_bytes, max_bytes, out);
}

void FieldReader::string(std::string_view key, size_t min_bytes, size_t max_bytes,
                         std::optional<std::string>& out) {
  const msgpack::object* o = find(key);
  if (!o) return;
  std::string s;
  if (read_string(*o, key, min_bytes, max_bytes, s)) out = std::move(s);
}

void FieldReader::agent_name(std::string_view key, std::string& out, bool allow_star) {
  std::optional<std::string> name;
  agent_name(key, name, allow_star);
  if (!error_ && !name) missing(key, allow_star ? kAgentOrStarRule : kAgentRule);
  if (name) out = std::move(*name);
}

void FieldReader::agent_name(std::string_view key, std::optional<std::string>& out,
                             bool allow_star) {
  const msgpack::object* o = find(key);
  if (!o) return;
  if (o->type == msgpack::type::STR) {
    std::string_view s(o->via.str.ptr, o->via.str.size);
    if (valid_agent_name(s) || (allow_star && s == "*")) {
      out = std::string(s);
      return;
    }
  }
  fail(key, allow_star ? kAgentOrStarRule : kAgentRule);
}

void FieldReader::boolean(std::string_view key, bool& out) {
  const msgpack::object* o = find(key);
  if (!o) return;
  if (o->type != msgpack::type::BOOLEAN) {
    fail(key, "true or false");
    return;
  }
  out = o->via.boolean;
}

bool FieldReader::read_uint(const msgpack::object& o, std::string_view key, uint64_t lo,
                            uint64_t hi, uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 < lo || o.via.u64 > hi) {
    fail(key, "integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return false;
  }
  out = o.via.u64;
  return true;
}

void FieldReader::uint(std::string_view key, uint64_t lo, uint64_t hi,
                       std::optional<uint64_t>& out) {
  const msgpack::object* o = find(key);
  uint64_t v = 0;
  if (o && read_uint(*o, key, lo, hi, v)) out = v;
}

void FieldReader::uint(std::string_view key, uint64_t lo, uint64_t hi,
                       std::optional<uint32_t>& out) {
  std::optional<uint64_t> v;
  uint(key, lo, std::min<uint64_t>(hi, UINT32_MAX), v);
  if (v) out = static_cast<uint32_t>(*v);
}

void FieldReader::uint(std::string_view key, uint64_t lo, uint64_t hi, uint64_t& out) {
  const msgpack::object* o = find(key);
  if (!o) {
    missing(key, "integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return;
  }
  read_uint(*o, key, lo, hi, out);
}

bool FieldReader::read_int(const msgpack::object& o, std::string_view key, int64_t lo,
                           int64_t hi, int64_t& out) {
  bool in_range = false;
  int64_t v = 0;
  if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= static_cast<uint64_t>(INT64_MAX)) {
    v = static_cast<int64_t>(o.via.u64);
    in_range = v >= lo && v <= hi;
  } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    v = o.via.i64;
    in_range = v >= lo && v <= hi;
  }
  if (!in_range) {
    fail(key, "integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return false;
  }
  out = v;
  return true;
}

void FieldReader::int64(std::string_view key, int64_t lo, int64_t hi,
                        std::optional<int64_t>& out) {
  const msgpack::object* o = find(key);
  int64_t v = 0;
  if (o && read_int(*o, key, lo, hi, v)) out = v;
}

void FieldReader::int64(std::string_view key, int64_t lo, int64_t hi, int64_t& out) {
  const msgpack::object* o = find(key);
  if (!o) {
    missing(key, "integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    return;
  }
  read_int(*o, key, lo, hi, out);
}

bool FieldReader::read_number(const msgpack::object& o, std::string_view key, double lo,
                              double hi, double& out) {
  double v = std::nan("");
  switch (o.type) {
    case msgpack::type::POSITIVE_INTEGER: v = static_cast<double>(o.via.u64); break;
    case msgpack::type::NEGATIVE_INTEGER: v = static_cast<double>(o.via.i64); break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: v = o.via.f64; break;
    default: break;
  }
  if (!(v >= lo && v <= hi)) {  // also rejects NaN
    fail(key, "number from " + format_number(lo) + " to " + format_number(hi));
    return false;
  }
  out = v;
  return true;
}

void FieldReader::number(std::string_view key, double lo, double hi,
                         std::optional<double>& out) {
  const msgpack::object* o = find(key);
  double v = 0;
  if (o && read_number(*o, key, lo, hi, v)) out = v;
}

void FieldReader::number(std::string_view key, double lo, double hi, double& out) {
  const msgpack::object* o = find(key);
  if (!o) {
    missing(key, "number from " + format_number(lo) + " to " + format_number(hi));
    return;
  }
  read_number(*o, key, lo, hi, out);
}

Result<RequestId> read_request_id(FieldReader& fields, std::string_view key) {
  const msgpack::object* o = fields.find(key);
  if (!fields.ok()) return fields.error();
  if (!o) return RequestId{};
  Packer p(Absent::kNil, 16);
  switch (o->type) {
    case msgpack::type::POSITIVE_INTEGER: p.put(o->via.u64); return RequestId{p.take()};
    case msgpack::type::NEGATIVE_INTEGER: p.put(o->via.i64); return RequestId{p.take()};
    case msgpack::type::STR: {
      std::string_view s(o->via.str.ptr, o->via.str.size);
      if (s.size() <= kMaxIdBytes && valid_utf8(s)) {
        p.str(s);
        return RequestId{p.take()};
      }
      break;
    }
    default: break;
  }
  return Error::bad_request(fields.path_of(key) +
                            ": string of at most 128 bytes (UTF-8) or integer");
}

}  // namespace tollgate::protocol::detail
