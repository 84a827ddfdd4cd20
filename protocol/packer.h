// Internal to protocol/: a msgpack writer that builds a std::string and
// writes plain-data structs as maps, field by field.
//
// A struct is written through `for_each_field(const T&, F&& f)`, found by
// argument-dependent lookup, which calls f(key, value) once per field in
// wire order. The same function counts the fields for the map header and
// writes them, so the header cannot disagree with the body. In
// kOmitAbsent mode (requests) empty optionals, empty vectors and nil ids
// are left out; in kNilAbsent mode (replies, events) they are written as
// nil (vectors as empty arrays). Single-threaded per instance.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "protocol/request_id.h"

namespace tollgate::protocol::detail {

// Appends to a string it owns. Grows geometrically and tracks its own
// length: std::string::append per header byte was a fifth of the encode cost.
class StringSink {
 public:
  explicit StringSink(size_t reserve) : buf_(reserve, '\0') {}
  void write(const char* data, size_t size) {
    if (len_ + size > buf_.size()) buf_.resize(std::max(buf_.size() * 2, len_ + size));
    std::memcpy(buf_.data() + len_, data, size);
    len_ += size;
  }
  std::string take() {
    buf_.resize(len_);
    len_ = 0;
    return std::move(buf_);
  }

 private:
  std::string buf_;
  size_t len_ = 0;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
template <class T>
struct IsBasicJson : std::false_type {};
template <>
struct IsBasicJson<nlohmann::json> : std::true_type {};
template <>
struct IsBasicJson<nlohmann::ordered_json> : std::true_type {};

// A field written only when it is set, in either mode: an optional with a
// value, a non-empty string or vector, a JSON value that is not null. For
// keys a newer protocol version added to a reply (usage's cache counts)
// and for optional parts of a block (cache_control).
template <class T>
struct OmitWhenAbsent {
  const T& value;
};
template <class T>
OmitWhenAbsent<T> omit_when_absent(const T& value) {
  return OmitWhenAbsent<T>{value};
}
template <class T>
struct IsOmitWhenAbsent : std::false_type {};
template <class T>
struct IsOmitWhenAbsent<OmitWhenAbsent<T>> : std::true_type {};

template <class T>
bool is_set(const T& v) {
  if constexpr (IsBasicJson<T>::value) {
    return !v.is_null();
  } else if constexpr (IsOptional<T>::value) {
    return v.has_value();
  } else {
    return !v.empty();  // strings and vectors
  }
}

template <class T>
struct IsStringMap : std::false_type {};
template <class T>
struct IsStringMap<std::map<std::string, T>> : std::true_type {};

enum class Absent { kOmit, kNil };

class Packer {
 public:
  explicit Packer(Absent absent, size_t reserve = 256)
      : sink_(reserve), pk_(sink_), absent_(absent) {}
  Packer(const Packer&) = delete;
  Packer& operator=(const Packer&) = delete;

  // The bytes written so far; the packer is empty afterwards.
  std::string take() { return sink_.take(); }
  msgpack::packer<StringSink>& raw() { return pk_; }
  void map_header(uint32_t n) { pk_.pack_map(n); }
  void str(std::string_view s) {
    pk_.pack_str(static_cast<uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void id(const RequestId& id) {
    if (id.is_nil()) {
      pk_.pack_nil();
    } else {
      sink_.write(id.raw.data(), id.raw.size());
    }
  }

  // Always the 9-byte float64 form: msgpack-c's pack_double writes doubles
  // with integral values (0.0, 2.0) as integers, and the protocol says
  // money and latencies are float64.
  void float64(double d) {
    const auto bits = std::bit_cast<uint64_t>(d);
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    sink_.write(buf, sizeof buf);
  }

  // A JSON value with its keys in their order: integers in their smallest
  // form, floats as float64, binary as bin.
  template <class Json>
  void json_value(const Json& j) {
    switch (j.type()) {
      case Json::value_t::null:
      case Json::value_t::discarded: pk_.pack_nil(); return;
      case Json::value_t::boolean: put(j.template get<bool>()); return;
      case Json::value_t::number_integer: put(j.template get<int64_t>()); return;
      case Json::value_t::number_unsigned: put(j.template get<uint64_t>()); return;
      case Json::value_t::number_float: put(j.template get<double>()); return;
      case Json::value_t::string: str(j.template get_ref<const std::string&>()); return;
      case Json::value_t::binary: {
        const auto& b = j.get_binary();
        pk_.pack_bin(static_cast<uint32_t>(b.size()));
        pk_.pack_bin_body(reinterpret_cast<const char*>(b.data()), static_cast<uint32_t>(b.size()));
        return;
      }
      case Json::value_t::array:
        pk_.pack_array(static_cast<uint32_t>(j.size()));
        for (const auto& e : j) json_value(e);
        return;
      case Json::value_t::object:
        pk_.pack_map(static_cast<uint32_t>(j.size()));
        for (const auto& [key, value] : j.items()) {
          str(key);
          json_value(value);
        }
        return;
    }
  }

  template <class T>
  void put(const T& v) {
    // JSON first: nlohmann's values convert implicitly to almost anything.
    if constexpr (IsBasicJson<T>::value) {
      json_value(v);
    } else if constexpr (IsOmitWhenAbsent<T>::value) {
      put(v.value);
    } else if constexpr (std::is_same_v<T, bool>) {
      v ? pk_.pack_true() : pk_.pack_false();
    } else if constexpr (std::is_floating_point_v<T>) {
      float64(static_cast<double>(v));
    } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
      pk_.pack_uint64(v);
    } else if constexpr (std::is_integral_v<T>) {
      pk_.pack_int64(v);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      str(v);
    } else if constexpr (std::is_same_v<T, RequestId>) {
      id(v);
    } else if constexpr (IsOptional<T>::value) {
      if (v) {
        put(*v);
      } else {
        pk_.pack_nil();
      }
    } else if constexpr (IsVector<T>::value) {
      pk_.pack_array(static_cast<uint32_t>(v.size()));
      for (const auto& e : v) put(e);
    } else if constexpr (IsStringMap<T>::value) {
      pk_.pack_map(static_cast<uint32_t>(v.size()));
      for (const auto& [key, value] : v) {
        str(key);
        put(value);
      }
    } else {
      put_struct(v, 0, [] {});
    }
  }

  // Writes `v` as a map whose first `extra` entries are written by
  // write_extra (e.g. v, id, ok), followed by the struct's fields.
  template <class T, class Extra>
  void put_struct(const T& v, uint32_t extra, Extra&& write_extra) {
    uint32_t n = extra;
    for_each_field(v, [&](std::string_view, const auto& value) { n += present(value) ? 1 : 0; });
    pk_.pack_map(n);
    write_extra();
    for_each_field(v, [&](std::string_view key, const auto& value) {
      if (!present(value)) return;
      str(key);
      put(value);
    });
  }

  template <class T>
  bool present(const T& v) const {
    if constexpr (IsOmitWhenAbsent<T>::value) {
      return is_set(v.value);
    } else if (absent_ == Absent::kNil) {
      return true;
    } else if constexpr (IsBasicJson<T>::value) {
      return !v.is_null();
    } else if constexpr (IsOptional<T>::value) {
      return v.has_value();
    } else if constexpr (IsVector<T>::value) {
      return !v.empty();
    } else if constexpr (std::is_same_v<T, RequestId>) {
      return !v.is_nil();
    } else {
      return true;
    }
  }

 private:
  StringSink sink_;
  msgpack::packer<StringSink> pk_;
  const Absent absent_;
};

}  // namespace tollgate::protocol::detail
