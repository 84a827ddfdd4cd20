// Image headers for tests: the first bytes of a PNG, JPEG, GIF or WebP file
// of a given size (enough for a reader of the size, not a decodable
// picture), and standard base64 to put them in a request.
#pragma once

#include <cstdint>
#include <string>

namespace tollgate::testing {

inline std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

inline std::string be16(uint32_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
inline std::string le16(uint32_t v) { return {static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
inline std::string le24(uint32_t v) { return le16(v & 0xFFFF) + std::string(1, static_cast<char>(v >> 16)); }
inline std::string le32(uint32_t v) { return le16(v & 0xFFFF) + le16(v >> 16); }

inline std::string png_header(uint32_t width, uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\x0dIHDR", 8) + be16(width >> 16) +
         be16(width & 0xFFFF) + be16(height >> 16) + be16(height & 0xFFFF) +
         std::string("\x08\x02\0\0\0\0\0\0\0", 9);
}

// SOI, a JFIF APP0 segment, then the baseline frame header holding the size.
inline std::string jpeg_header(uint32_t width, uint32_t height) {
  return std::string("\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 20) +
         std::string("\xff\xc0\0\x11\x08", 5) + be16(height) + be16(width) +
         std::string("\x03\x01\x22\0\x02\x11\x01\x03\x11\x01\xff\xd9", 12);
}

inline std::string gif_header(uint32_t width, uint32_t height) {
  return "GIF89a" + le16(width) + le16(height) + std::string("\0\0\0", 3);
}

// An extended (VP8X) WebP header: canvas size minus one, 24 bits each.
inline std::string webp_header(uint32_t width, uint32_t height) {
  return "RIFF" + le32(22) + "WEBPVP8X" + le32(10) + std::string(4, '\0') + le24(width - 1) +
         le24(height - 1);
}

}  // namespace tollgate::testing
