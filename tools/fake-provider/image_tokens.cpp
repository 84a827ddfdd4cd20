#include "tools/fake-provider/image_tokens.h"

#include <algorithm>
#include <array>

namespace tollgate::fake_provider {
namespace {

constexpr uint32_t kAnthropicLongEdge = 1568;
constexpr uint64_t kAnthropicPixelsPerToken = 750;
constexpr uint32_t kOpenAiFit = 2048;
constexpr uint32_t kOpenAiShortSide = 768;
constexpr uint32_t kOpenAiTile = 512;

uint8_t at(std::string_view b, size_t i) { return static_cast<uint8_t>(b[i]); }
uint32_t be16(std::string_view b, size_t i) { return (at(b, i) << 8) | at(b, i + 1); }
uint32_t le16(std::string_view b, size_t i) { return at(b, i) | (at(b, i + 1) << 8); }
uint32_t le24(std::string_view b, size_t i) { return le16(b, i) | (at(b, i + 2) << 16); }
uint32_t be32(std::string_view b, size_t i) { return (be16(b, i) << 16) | be16(b, i + 2); }
uint32_t le32(std::string_view b, size_t i) { return le16(b, i) | (le16(b, i + 2) << 16); }

std::optional<ImageInfo> info(std::string type, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0) return std::nullopt;
  return ImageInfo{std::move(type), width, height};
}

std::optional<ImageInfo> read_png(std::string_view b) {
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return std::nullopt;
  return info("image/png", be32(b, 16), be32(b, 20));
}

std::optional<ImageInfo> read_gif(std::string_view b) {
  if (b.size() < 10) return std::nullopt;
  return info("image/gif", le16(b, 6), le16(b, 8));
}

// Walks the segments to the first start-of-frame marker, which holds the size.
std::optional<ImageInfo> read_jpeg(std::string_view b) {
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (at(b, pos) != 0xFF) return std::nullopt;
    const uint8_t marker = at(b, pos + 1);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return std::nullopt;  // no frame before the scan
    const uint32_t length = be16(b, pos);
    if (length < 2) return std::nullopt;
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                       marker != 0xCC;
    if (frame) {
      if (pos + 7 > b.size()) return std::nullopt;
      return info("image/jpeg", be16(b, pos + 5), be16(b, pos + 3));
    }
    pos += length;
  }
  return std::nullopt;
}

std::optional<ImageInfo> read_webp(std::string_view b) {
  if (b.size() < 30 || b.substr(8, 4) != "WEBP") return std::nullopt;
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (at(b, 23) != 0x9D || at(b, 24) != 0x01 || at(b, 25) != 0x2A) return std::nullopt;
    return info("image/webp", le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF);
  }
  if (chunk == "VP8L") {
    if (at(b, 20) != 0x2F) return std::nullopt;
    const uint32_t bits = le32(b, 21);
    return info("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (chunk == "VP8X") return info("image/webp", le24(b, 24) + 1, le24(b, 27) + 1);
  return std::nullopt;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Scales (w, h) down, keeping the aspect, so the longer side is at most `edge`.
void fit_long_edge(uint64_t& w, uint64_t& h, uint64_t edge) {
  if (std::max(w, h) <= edge) return;
  if (w >= h) {
    h = std::max<uint64_t>(1, h * edge / w);
    w = edge;
  } else {
    w = std::max<uint64_t>(1, w * edge / h);
    h = edge;
  }
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  size_t end = text.size();
  for (int pad = 0; pad < 2 && end > 0 && text[end - 1] == '='; ++pad) --end;
  if (end % 4 == 1 || (end != text.size() && text.size() % 4 != 0)) return std::nullopt;
  std::string out;
  out.reserve(end * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    const int v = base64_value(text[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<ImageInfo> read_image_info(std::string_view b) {
  static constexpr std::array<uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= kPng.size() && std::equal(kPng.begin(), kPng.end(), b.begin(),
                                            [](uint8_t x, char y) { return x == static_cast<uint8_t>(y); })) {
    return read_png(b);
  }
  if (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a") return read_gif(b);
  if (b.size() >= 3 && at(b, 0) == 0xFF && at(b, 1) == 0xD8 && at(b, 2) == 0xFF) return read_jpeg(b);
  if (b.substr(0, 4) == "RIFF") return read_webp(b);
  return std::nullopt;
}

uint64_t anthropic_image_tokens(uint32_t width, uint32_t height) {
  uint64_t w = width, h = height;
  fit_long_edge(w, h, kAnthropicLongEdge);
  return std::max<uint64_t>(1, (w * h + kAnthropicPixelsPerToken - 1) / kAnthropicPixelsPerToken);
}

uint64_t openai_image_tokens(uint32_t width, uint32_t height) {
  uint64_t w = width, h = height;
  fit_long_edge(w, h, kOpenAiFit);
  const uint64_t short_side = std::min(w, h);
  if (short_side > kOpenAiShortSide) {
    w = std::max<uint64_t>(1, w * kOpenAiShortSide / short_side);
    h = std::max<uint64_t>(1, h * kOpenAiShortSide / short_side);
  }
  const uint64_t tiles = ((w + kOpenAiTile - 1) / kOpenAiTile) * ((h + kOpenAiTile - 1) / kOpenAiTile);
  return 85 + 170 * tiles;
}

}  // namespace tollgate::fake_provider
