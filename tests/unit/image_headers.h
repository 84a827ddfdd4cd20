// Hand-made image headers for the image size and input bound tests: the
// first bytes of a PNG, JPEG, GIF or WebP file of a given size (enough for
// a header parser; no pixel data), and base64 as clients send it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::test {

inline void put_be(std::string& out, uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
inline void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

inline std::string png_header(uint32_t width, uint32_t height) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  put_be(out, 13, 4);
  out += "IHDR";
  put_be(out, width, 4);
  put_be(out, height, 4);
  out += std::string("\x08\x06\x00\x00\x00", 5);  // 8-bit RGBA, no interlace
  put_be(out, 0x12345678, 4);                      // CRC (not checked)
  return out;
}

// A JPEG segment: marker, big-endian length (including itself), payload.
inline std::string jpeg_segment(uint8_t marker, std::string_view payload) {
  std::string out{'\xff', static_cast<char>(marker)};
  put_be(out, static_cast<uint32_t>(payload.size() + 2), 2);
  out += payload;
  return out;
}

inline std::string jpeg_sof_payload(uint32_t width, uint32_t height) {
  std::string p{'\x08'};  // precision
  put_be(p, height, 2);
  put_be(p, width, 2);
  p += std::string("\x01\x01\x11\x00", 4);  // one component
  return p;
}

// SOI, APP0 (JFIF), DQT, SOF0, then the start of a scan.
inline std::string jpeg_header(uint32_t width, uint32_t height, uint8_t sof = 0xc0) {
  std::string out("\xff\xd8", 2);
  out += jpeg_segment(0xe0, std::string("JFIF\0\x01\x02\0\0\x01\0\x01\0\0", 14));
  out += jpeg_segment(0xdb, std::string(65, '\x01'));
  out += jpeg_segment(sof, jpeg_sof_payload(width, height));
  out += jpeg_segment(0xda, std::string("\x01\x01\x00\x00\x3f\x00", 6));
  return out;
}

// GIF89a with a 2-colour global table, a graphic control extension and one
// frame at (left, top) of frame_w x frame_h, then the trailer.
inline std::string gif_header(uint32_t width, uint32_t height, uint32_t left = 0,
                              uint32_t top = 0, uint32_t frame_w = 0, uint32_t frame_h = 0) {
  std::string out = "GIF89a";
  put_le(out, width, 2);
  put_le(out, height, 2);
  out += std::string("\x80\x00\x00", 3);           // global table of 2 colours
  out += std::string("\x00\x00\x00\xff\xff\xff", 6);
  out += std::string("\x21\xf9\x04\x00\x00\x00\x00\x00", 8);  // graphic control
  out.push_back('\x2c');
  put_le(out, left, 2);
  put_le(out, top, 2);
  put_le(out, frame_w == 0 ? width : frame_w, 2);
  put_le(out, frame_h == 0 ? height : frame_h, 2);
  out.push_back('\x00');                            // no local table
  out += std::string("\x02\x02\x4c\x01\x00", 5);    // LZW size, one sub-block, end
  out.push_back('\x3b');
  return out;
}

inline std::string riff_webp(std::string_view chunk, std::string_view payload) {
  std::string out = "RIFF";
  put_le(out, static_cast<uint32_t>(12 + payload.size()), 4);
  out += "WEBP";
  out += chunk;
  put_le(out, static_cast<uint32_t>(payload.size()), 4);
  out += payload;
  return out;
}

inline std::string webp_vp8(uint32_t width, uint32_t height) {
  std::string p("\x10\x02\x00\x9d\x01\x2a", 6);  // frame tag, start code
  put_le(p, width & 0x3fff, 2);
  put_le(p, height & 0x3fff, 2);
  return riff_webp("VP8 ", p);
}

inline std::string webp_vp8l(uint32_t width, uint32_t height) {
  std::string p{'\x2f'};
  put_le(p, ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), 4);
  return riff_webp("VP8L", p);
}

inline std::string webp_vp8x(uint32_t width, uint32_t height) {
  std::string p("\x10\x00\x00\x00", 4);  // flags (alpha), reserved
  put_le(p, width - 1, 3);
  put_le(p, height - 1, 3);
  return riff_webp("VP8X", p);
}

inline std::string base64(std::string_view bytes, bool pad = true) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = 0;
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    for (size_t j = 0; j < 3; ++j) {
      group = group << 8 | (j < n ? static_cast<uint8_t>(bytes[i + j]) : 0u);
    }
    for (size_t j = 0; j < 4; ++j) {
      if (j <= n) {
        out.push_back(kAlphabet[(group >> (18 - 6 * j)) & 0x3f]);
      } else if (pad) {
        out.push_back('=');
      }
    }
  }
  return out;
}

}  // namespace tollgate::test
