// tollgate::Value: a decoded msgpack value (nil, bool, integer, float,
// string, array, string-keyed map), the generic result of the operator ops
// and the holder of JSON-like data in a call (a tool's `input`, a tool's
// `input_schema`).
//
// Built in code with initializer lists, no JSON library needed:
//
//   tollgate::Value schema = tollgate::Value::Map{
//       {"type", "object"},
//       {"properties", tollgate::Value::Map{{"city", tollgate::Value::Map{{"type", "string"}}}}},
//       {"required", tollgate::Value::Array{"city"}}};
//
// Reading never throws: a missing key or index, or a value of another
// type, reads as nil, 0, 0.0, false or "". Plain data; a Value is safe to
// share between threads as long as none writes to it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <msgpack.hpp>

namespace tollgate {

class Value {
 public:
  using Array = std::vector<Value>;
  using Map = std::map<std::string, Value>;  // keys in sorted order

  Value() = default;  // nil
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Value(I i) {
    if constexpr (std::is_signed_v<I>) {
      v_ = static_cast<int64_t>(i);
    } else if (static_cast<uint64_t>(i) <= static_cast<uint64_t>(INT64_MAX)) {
      v_ = static_cast<int64_t>(i);
    } else {
      v_ = static_cast<uint64_t>(i);
    }
  }
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Map m) : v_(std::move(m)) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_) || std::holds_alternative<uint64_t>(v_); }
  bool is_double() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_array() const { return std::holds_alternative<Array>(v_); }
  bool is_map() const { return std::holds_alternative<Map>(v_); }

  bool as_bool() const { return is_bool() && std::get<bool>(v_); }
  int64_t as_int() const {
    if (auto* i = std::get_if<int64_t>(&v_)) return *i;
    if (auto* u = std::get_if<uint64_t>(&v_)) return static_cast<int64_t>(*u);
    if (auto* d = std::get_if<double>(&v_)) return static_cast<int64_t>(*d);
    return 0;
  }
  // Negative integers read as 0 (token counts are never negative).
  uint64_t as_uint() const {
    if (auto* u = std::get_if<uint64_t>(&v_)) return *u;
    if (auto* i = std::get_if<int64_t>(&v_)) return *i < 0 ? 0 : static_cast<uint64_t>(*i);
    if (auto* d = std::get_if<double>(&v_)) return *d < 0 ? 0 : static_cast<uint64_t>(*d);
    return 0;
  }
  double as_double() const {
    if (auto* d = std::get_if<double>(&v_)) return *d;
    if (auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
    if (auto* u = std::get_if<uint64_t>(&v_)) return static_cast<double>(*u);
    return 0.0;
  }
  const std::string& as_string() const {
    static const std::string empty;
    auto* s = std::get_if<std::string>(&v_);
    return s ? *s : empty;
  }
  const Array& as_array() const {
    static const Array empty;
    auto* a = std::get_if<Array>(&v_);
    return a ? *a : empty;
  }
  const Map& as_map() const {
    static const Map empty;
    auto* m = std::get_if<Map>(&v_);
    return m ? *m : empty;
  }

  // Map lookup; nil when this is not a map or has no such key.
  const Value& operator[](const std::string& key) const {
    const Map& m = as_map();
    auto it = m.find(key);
    return it == m.end() ? nil() : it->second;
  }
  const Value& operator[](const char* key) const { return (*this)[std::string(key)]; }
  // Array element; nil when out of range (not operator[]: v[0] would be
  // ambiguous with the key lookup).
  const Value& at(size_t index) const {
    const Array& a = as_array();
    return index < a.size() ? a[index] : nil();
  }
  bool contains(const std::string& key) const { return as_map().count(key) != 0; }
  // Elements of an array or entries of a map; 0 otherwise.
  size_t size() const { return is_array() ? as_array().size() : as_map().size(); }

  // Writable access for building values: turns a nil into a map / array.
  Value& operator[](const std::string& key) {
    if (is_null()) v_ = Map{};
    return std::get<Map>(v_)[key];
  }
  Value& operator[](const char* key) { return (*this)[std::string(key)]; }
  void push_back(Value v) {
    if (is_null()) v_ = Array{};
    std::get<Array>(v_).push_back(std::move(v));
  }

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

  static const Value& nil() {
    static const Value n;
    return n;
  }

  // JSON text of the value, for logs and messages (floats with up to 17
  // significant digits; control characters escaped).
  std::string dump() const;

  template <class Stream>
  void pack(msgpack::packer<Stream>& pk) const;
  // From a msgpack object. Map keys that are not strings are skipped
  // (the protocol's maps have string keys); binary reads as a string.
  static Value from_msgpack(const msgpack::object& o);

 private:
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Array, Map> v_;
};

template <class Stream>
void Value::pack(msgpack::packer<Stream>& pk) const {
  struct Visit {
    msgpack::packer<Stream>& pk;
    void operator()(std::monostate) { pk.pack_nil(); }
    void operator()(bool b) { b ? pk.pack_true() : pk.pack_false(); }
    void operator()(int64_t i) { pk.pack(i); }
    void operator()(uint64_t u) { pk.pack(u); }
    void operator()(double d) { pk.pack_double(d); }
    void operator()(const std::string& s) { pk.pack(s); }
    void operator()(const Array& a) {
      pk.pack_array(static_cast<uint32_t>(a.size()));
      for (const Value& e : a) e.pack(pk);
    }
    void operator()(const Map& m) {
      pk.pack_map(static_cast<uint32_t>(m.size()));
      for (const auto& [k, e] : m) {
        pk.pack(k);
        e.pack(pk);
      }
    }
  };
  std::visit(Visit{pk}, v_);
}

inline std::string Value::dump() const {
  struct Visit {
    std::string& out;
    void str(const std::string& s) {
      out.push_back('"');
      for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
          out.push_back('\\');
          out.push_back(static_cast<char>(c));
        } else if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
      }
      out.push_back('"');
    }
    void operator()(std::monostate) { out += "null"; }
    void operator()(bool b) { out += b ? "true" : "false"; }
    void operator()(int64_t i) { out += std::to_string(i); }
    void operator()(uint64_t u) { out += std::to_string(u); }
    void operator()(double d) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      out += buf;
    }
    void operator()(const std::string& s) { str(s); }
    void operator()(const Array& a) {
      out.push_back('[');
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out.push_back(',');
        std::visit(*this, a[i].v_);
      }
      out.push_back(']');
    }
    void operator()(const Map& m) {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : m) {
        if (!first) out.push_back(',');
        first = false;
        str(k);
        out.push_back(':');
        std::visit(*this, e.v_);
      }
      out.push_back('}');
    }
  };
  std::string out;
  std::visit(Visit{out}, v_);
  return out;
}

inline Value Value::from_msgpack(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::BOOLEAN: return Value(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER: return Value(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER: return Value(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return Value(o.via.f64);
    case msgpack::type::STR: return Value(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN: return Value(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY: {
      Array a;
      a.reserve(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(from_msgpack(o.via.array.ptr[i]));
      return Value(std::move(a));
    }
    case msgpack::type::MAP: {
      Map m;
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR) continue;
        m.emplace(std::string(kv.key.via.str.ptr, kv.key.via.str.size), from_msgpack(kv.val));
      }
      return Value(std::move(m));
    }
    default: return Value();
  }
}

}  // namespace tollgate
