// The webhook signature (PROTOCOL.md section 10): HMAC-SHA256 of the raw
// body with the destination's secret, as the X-Tollgate-Signature header
// value "sha256=<64 lowercase hex digits>". OpenSSL libcrypto. Pure.
#pragma once

#include <string>
#include <string_view>

namespace tollgate::notify {

std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// "sha256=" + hmac_sha256_hex(secret, body).
std::string signature_header_value(std::string_view secret, std::string_view body);

}  // namespace tollgate::notify
