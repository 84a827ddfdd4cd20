// Helpers shared by the protocol unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "protocol/codec.h"

namespace tollgate::protocol::testing {

// "86 a1 76" -> bytes; spaces ignored.
inline std::string from_hex(std::string_view hex) {
  std::string out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Decodes a request given as JSON (converted to msgpack first).
inline DecodedRequest decode_json(const nlohmann::json& j, const DecodeLimits& limits = {}) {
  return decode_request(from_json(j), limits);
}

inline nlohmann::json json_of(const std::string& msgpack_body) {
  auto j = to_json(msgpack_body);
  if (!j) return nlohmann::json{{"to_json_error", j.error().message}};
  return *j;
}

}  // namespace tollgate::protocol::testing
