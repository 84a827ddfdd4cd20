#include "protocol/json_bridge.h"

#include "protocol/bounded_unpack.h"
#include "protocol/codec.h"
#include "protocol/field_reader.h"
#include "protocol/packer.h"
#include "protocol/wire_fields.h"

namespace tollgate::protocol {
namespace {

using nlohmann::json;

// Replaces each byte that does not start a valid UTF-8 sequence by U+FFFD,
// so nlohmann's dump() (which throws on invalid UTF-8) always works.
std::string to_valid_utf8(std::string_view s) {
  if (detail::valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    // Longest valid prefix of 1-4 bytes starting at i.
    size_t n = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      if (detail::valid_utf8(s.substr(i, len))) {
        n = len;
        break;
      }
    }
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

json binary_of(const char* data, size_t size, std::optional<int8_t> subtype) {
  json::binary_t::container_type bytes(reinterpret_cast<const uint8_t*>(data),
                                       reinterpret_cast<const uint8_t*>(data) + size);
  if (subtype) return json::binary(std::move(bytes), static_cast<uint8_t>(*subtype));
  return json::binary(std::move(bytes));
}

json convert(const msgpack::object& o);

// A JSON object key for a msgpack map key. Scalars are their JSON text.
// Containers, bin and ext become "msgpack:" and the hex of their bytes: were
// they JSON text, a key nested in a key would be escaped again at every
// level, and 30 levels in a 300-byte body needed gigabytes (found by
// fuzz_decoder). Hex is lossless and twice the size at any depth.
std::string key_text(const msgpack::object& key) {
  switch (key.type) {
    case msgpack::type::STR: return to_valid_utf8({key.via.str.ptr, key.via.str.size});
    case msgpack::type::BIN:
    case msgpack::type::EXT:
    case msgpack::type::ARRAY:
    case msgpack::type::MAP: {
      msgpack::sbuffer bytes;
      msgpack::pack(bytes, key);
      static constexpr char kHex[] = "0123456789abcdef";
      std::string text = "msgpack:";
      text.reserve(text.size() + 2 * bytes.size());
      for (size_t i = 0; i < bytes.size(); ++i) {
        const auto b = static_cast<unsigned char>(bytes.data()[i]);
        text += kHex[b >> 4];
        text += kHex[b & 0xf];
      }
      return text;
    }
    default: return convert(key).dump();
  }
}

// Depth is bounded by unpack_bounded, so recursion is safe.
json convert(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return nullptr;
    case msgpack::type::BOOLEAN: return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return o.via.f64;
    case msgpack::type::STR: return to_valid_utf8({o.via.str.ptr, o.via.str.size});
    case msgpack::type::BIN: return binary_of(o.via.bin.ptr, o.via.bin.size, std::nullopt);
    case msgpack::type::EXT: return binary_of(o.via.ext.data(), o.via.ext.size, o.via.ext.type());
    case msgpack::type::ARRAY: {
      json a = json::array();
      for (uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(convert(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      json m = json::object();
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        m[key_text(kv.key)] = convert(kv.val);
      }
      return m;
    }
  }
  return nullptr;
}

// A request id as JSON: its msgpack bytes converted as to_json converts
// the id of an encoded reply.
json id_json(const RequestId& id) {
  if (id.is_nil()) return nullptr;
  auto converted = to_json(id.raw);
  return converted ? std::move(*converted) : json(nullptr);
}

// Writes plain-data structs through for_each_field (wire_fields.h), value
// by value as Packer does in its nil-for-absent mode, so that the JSON is
// what converting the encoded message would give.
template <class T>
json value_json(const T& v);

template <class T>
json struct_json(const T& v) {
  json o = json::object();
  for_each_field(v, [&](std::string_view key, const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (detail::IsOmitWhenAbsent<Field>::value) {
      if (detail::is_set(field.value)) o[std::string(key)] = value_json(field.value);
    } else {
      o[std::string(key)] = value_json(field);
    }
  });
  return o;
}

template <class T>
json value_json(const T& v) {
  // JSON first: nlohmann's values convert implicitly to almost anything.
  if constexpr (detail::IsBasicJson<T>::value) {
    return json(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<double>(v);
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return static_cast<uint64_t>(v);
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<int64_t>(v);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return to_valid_utf8(v);
  } else if constexpr (std::is_same_v<T, RequestId>) {
    return id_json(v);
  } else if constexpr (detail::IsOptional<T>::value) {
    return v ? value_json(*v) : json(nullptr);
  } else if constexpr (detail::IsVector<T>::value) {
    json a = json::array();
    for (const auto& e : v) a.push_back(value_json(e));
    return a;
  } else if constexpr (detail::IsStringMap<T>::value) {
    json m = json::object();
    for (const auto& [key, value] : v) m[to_valid_utf8(key)] = value_json(value);
    return m;
  } else {
    return struct_json(v);
  }
}

json envelope_json(const RequestId& id, bool ok) {
  return json{{"v", kProtocolVersion}, {"id", id_json(id)}, {"ok", ok}};
}

}  // namespace

json reply_json(const RequestId& id, const ReplyBody& reply) {
  json out = envelope_json(id, true);
  std::visit([&](const auto& r) { out.update(struct_json(r)); }, reply);
  return out;
}

json stale_reply_json(const RequestId& id, const ReplyBody& reply, const Staleness& stale) {
  json out = reply_json(id, reply);
  out["stale"] = {{"as_of_ms", stale.as_of_ms}, {"reason", to_valid_utf8(stale.reason)}};
  return out;
}

json error_reply_json(const RequestId& id, const Error& error) {
  json out = envelope_json(id, false);
  json e = {{"code", std::string(code_name(error.code))}, {"message", to_valid_utf8(error.message)}};
  if (error.retry_after_ms) e["retry_after_ms"] = *error.retry_after_ms;
  // Section 9, as encode_error_reply writes it: at both levels.
  if (error.partial) {
    e["partial"] = true;
    out["partial"] = true;
  }
  out["error"] = std::move(e);
  return out;
}

Result<nlohmann::json> to_json(std::string_view body, size_t max_depth) {
  try {
    msgpack::zone zone(detail::zone_chunk_size(body.size()));
    auto unpacked = detail::unpack_bounded(zone, body, max_depth, "msgpack body");
    if (!unpacked) return unpacked.error();
    if (unpacked->consumed != body.size()) {
      return Error::bad_request("msgpack body: " + std::to_string(body.size() - unpacked->consumed) +
                                " trailing bytes after the value");
    }
    return convert(unpacked->object);
  } catch (const std::exception& e) {
    return Error::internal(std::string("msgpack body: conversion failed: ") + e.what());
  }
}

std::string from_json(const nlohmann::json& value) {
  detail::Packer p(detail::Absent::kNil);
  p.json_value(value);
  return p.take();
}

std::string from_ordered_json(const nlohmann::ordered_json& value) {
  detail::Packer p(detail::Absent::kNil);
  p.json_value(value);
  return p.take();
}

}  // namespace tollgate::protocol
